"""The LLM grader (docs/llm.md). Asking: `client` (requests with deadlines and retries, the reply body bounded),
`credentials` (which key a provider needs, checked before any import), `failures` (why a request failed),
`pricing` (what it cost), `prompt` (templates and the fenced answer), `passages` (the answer as numbered passages),
`schema` (the reply's JSON schema, token budget and bounded parse), `conversation` (chunks, halving, repairs and
response formats), `capabilities` (what each model was found to accept). Judging: `support` (whether a cited
passage carries the concept), `evidence` (locating quotes in reasons), `grader` (samples, majority, the Grade),
`witness` (the keyword grade as a check). `cache` (grades already paid for), `drafting` (rubric drafts),
`batch_api` (the providers' batch APIs: files and batches, batch prices; docs/provider-batch.md). Nothing here is
imported on the keyword path."""
