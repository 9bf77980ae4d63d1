"""The review web app (Starlette): the queue, the per-question view, an answer's page and the reviewer's corrections.

Pages are rendered on the server from Jinja templates with autoescaping on (answers are hostile input); a small
script (`static/review.js`, served by the app: no CDN, no build step) adds the keyboard. Corrections are POSTed
forms that redirect back (to the same answer, or the next one in the queue), so the browser's Back button and a
reload never post twice.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode

from jinja2 import Environment, FileSystemLoader, StrictUndefined
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from grader.cohort.coverage import cohort_of, question_summaries
from grader.cohort.overrides import STATUSES
from grader.review.desk import ISSUES, SORTS, STATES, Desk, Entry, Filters
from grader.review.guard import Guard, secure
from grader.review.highlight import segments
from grader.review.sources import Sources

HERE = Path(__file__).parent
PAGE_SIZE = 100
MAX_FORM = 16 * 1024
STATIC = {"review.js": "text/javascript; charset=utf-8", "review.css": "text/css; charset=utf-8"}
Handler = Callable[[Request], Awaitable[Response]]


def create_app(desk: Desk, guard: Guard | None = None) -> Starlette:
    """The ASGI app over `desk`; `guard` holds the access token and the CSRF value (new ones when not given)."""
    guard = guard or Guard()
    templates = Environment(
        loader=FileSystemLoader(HERE / "templates"), autoescape=True, undefined=StrictUndefined, trim_blocks=True,
        lstrip_blocks=True,
    )  # fmt: skip
    sources = Sources(desk.results)
    static = {name: (HERE / "static" / name).read_bytes() for name in STATIC}

    def render(name: str, **context: Any) -> Response:
        page = templates.get_template(name).render(csrf=guard.csrf, desk=desk, **context)
        return HTMLResponse(page)

    def guarded(handler: Handler) -> Handler:
        async def run(request: Request) -> Response:
            refused = guard.check(request)
            if refused is not None:
                return refused
            desk.refresh()
            return secure(await handler(request))

        return run

    async def queue_page(request: Request) -> Response:
        filters = Filters.from_query(request.query_params)
        queue = desk.queue(filters)
        pages = max(1, -(-len(queue) // PAGE_SIZE))
        page = min(pages, max(1, _int(request.query_params.get("page"), 1)))
        rows = queue.entries[(page - 1) * PAGE_SIZE : page * PAGE_SIZE]
        reviewed = sum(e.reviewed for e in desk.entries)
        return render(
            "queue.html", filters=filters, qs=_qs(filters), rows=rows, page=page, pages=pages, total=len(queue),
            reviewed=reviewed, facets=desk.facets(), sorts=SORTS, issues=ISSUES, states=STATES,
            page_url=lambda n: "/?" + urlencode({**filters.query(), "page": str(n)}),
        )  # fmt: skip

    async def questions_page(request: Request) -> Response:
        cohort = cohort_of(e.view for e in desk.entries)
        machine: dict[str, list[float]] = {}
        reviewed: dict[str, int] = {}
        for e in desk.entries:
            if e.grade is not None:
                machine.setdefault(e.question_id, []).append(float(e.record["grade"].get("score", 0.0)))
                reviewed[e.question_id] = reviewed.get(e.question_id, 0) + e.reviewed
        return render(
            "questions.html", summaries=question_summaries(cohort), notes=desk.notes, reviewed=reviewed,
            machine_mean={q: sum(v) / len(v) for q, v in machine.items() if v},
        )  # fmt: skip

    async def answer_page(request: Request) -> Response:
        entry = desk.by_key.get(request.path_params["key"])
        if entry is None:
            return HTMLResponse("<!DOCTYPE html><title>not found</title><p>No such answer.", status_code=404)
        filters = Filters.from_query(request.query_params)
        queue = desk.queue(filters)
        before, after = queue.neighbours(entry)
        return render("answer.html", **_answer_context(desk, sources, entry, filters), before=before, after=after,
                      position=queue.position(entry) + 1, total=len(queue), statuses=STATUSES)  # fmt: skip

    async def correct(request: Request) -> Response:
        entry = desk.by_key.get(request.path_params["key"])
        if entry is None:
            return HTMLResponse("<!DOCTYPE html><title>not found</title><p>No such answer.", status_code=404)
        form = await _form(request)
        if form is None:
            return HTMLResponse("<!DOCTYPE html><title>bad request</title><p>Bad form.", status_code=400)
        refused = guard.check_form(form)
        if refused is not None:
            return refused
        filters = Filters.from_query(request.query_params)
        action = request.path_params["action"]
        comment = form.get("comment", "").strip()
        _, after = desk.queue(filters).neighbours(entry)  # before the change moves the answer in the queue
        try:
            if action == "status":
                desk.set_status(entry, form.get("concept", ""), form.get("status", ""), comment)  # type: ignore[arg-type]
            elif action == "score":
                desk.set_score(entry, _score(form.get("score", "")), comment)
            elif action == "confirm":
                desk.confirm(entry, comment)
            else:
                return HTMLResponse("<!DOCTYPE html><title>not found</title><p>No such action.", status_code=404)
        except ValueError as exc:
            return HTMLResponse(f"<!DOCTYPE html><title>bad request</title><p>{_escape(str(exc))}", status_code=400)
        if action == "confirm":
            target = _answer_url(after, filters) if after is not None and after is not entry else "/?" + _qs(filters)
        else:
            target = _answer_url(entry, filters) + _fragment(form.get("concept", ""), entry)
        return RedirectResponse(target, status_code=303)

    async def static_file(request: Request) -> Response:
        name = request.path_params["name"]
        if name not in static:
            return HTMLResponse("not found", status_code=404)
        return Response(static[name], media_type=STATIC[name])

    routes = [
        Route("/", guarded(queue_page)),
        Route("/questions", guarded(questions_page)),
        Route("/answer/{key}", guarded(answer_page)),
        Route("/answer/{key}/{action}", guarded(correct), methods=["POST"]),
        Route("/static/{name}", guarded(static_file)),
        Route("/favicon.ico", lambda request: Response(status_code=204)),
    ]
    return Starlette(routes=routes)


def _answer_context(desk: Desk, sources: Sources, entry: Entry, filters: Filters) -> dict[str, Any]:
    grade = entry.grade or {}
    review = entry.view.get("review") or {}
    note = desk.notes.get(entry.question_id)
    answer = sources.answer(entry.candidate, entry.question_id, entry.record["source"], entry.key)
    concepts = grade.get("concepts") or []
    parts, found = segments(answer.text or "", {c["id"]: c.get("evidence") for c in concepts})
    disagreements = {d.get("concept_id"): d.get("note", "") for d in grade.get("disagreements") or ()}
    comments = review.get("comments") or {}
    rows = [
        {
            **c,
            "number": number,
            "machine": (review.get("machine_statuses") or {}).get(c["id"], c.get("status")),
            "set": c["id"] in (review.get("concepts") or ()),
            "found": c["id"] in found,
            "description": note.concepts.get(c["id"], "") if note else "",
            "disagreement": disagreements.get(c["id"], ""),
            "comment": comments.get(c["id"], ""),
        }
        for number, c in enumerate(concepts, start=1)
    ]
    return {
        "entry": entry, "grade": grade, "review": review, "note": note, "answer": answer, "segments": parts,
        "concepts": rows, "filters": filters, "qs": _qs(filters), "total_comment": comments.get("", ""),
        "answer_url": lambda e: _answer_url(e, filters),
    }  # fmt: skip


async def _form(request: Request) -> dict[str, str] | None:
    """A urlencoded form (the only kind our pages send), at most MAX_FORM bytes; None when it is not one."""
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind != "application/x-www-form-urlencoded":
        return None
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_FORM:
            return None
    try:
        return dict(parse_qsl(body.decode("utf-8"), keep_blank_values=True))
    except UnicodeDecodeError:
        return None


def _qs(filters: Filters) -> str:
    return urlencode(filters.query())


def _answer_url(entry: Entry, filters: Filters) -> str:
    query = _qs(filters)
    return f"/answer/{entry.key}" + (f"?{query}" if query else "")


def _fragment(concept_id: str, entry: Entry) -> str:
    for number, concept in enumerate((entry.grade or {}).get("concepts") or (), start=1):
        if concept["id"] == concept_id:
            return f"#c{number}"
    return ""


def _score(text: str) -> float | None:
    """A total override from the form: a number from 0 to 10, or empty to withdraw the override."""
    text = text.strip().replace(",", ".")
    if not text:
        return None
    try:
        return float(text)
    except ValueError:
        raise ValueError("the score must be a number from 0 to 10") from None


def _int(text: str | None, default: int) -> int:
    try:
        return int(text) if text else default
    except ValueError:
        return default


def _escape(text: str) -> str:
    import html

    return html.escape(text)
