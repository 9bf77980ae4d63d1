"""The LLM grader: `client` (requests with deadlines and retries), `failures` (why a request failed), `prompt`
(templates and the fenced answer), `grader` (verdict schema, strict parse, scoring in code), `evidence` (checking
quotes against the answer), `cache` (grades already paid for), `batch_api` (the providers' batch APIs: files and
batches, batch prices). Nothing here is imported on the keyword path."""
