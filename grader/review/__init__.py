"""Reviewing a cohort's grades in the browser (`grade review`); needs the `review` extra (Starlette, uvicorn, Jinja2).

- `desk`: the answers of a results file and their overrides, filtered and sorted into a queue;
- `sources`: an answer's text read back from its source; `highlight`: where each concept's evidence is in it;
- `app`: the Starlette app (pages, corrections); `guard`: token, CSRF, Host check, security headers;
- `server`: serving it on 127.0.0.1.

The overrides file itself, and applying it to every report, live in `grader.cohort` (`overrides`, `corrections`).
Only the CLI imports this package.
"""
