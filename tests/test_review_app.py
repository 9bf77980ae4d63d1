"""The review app through Starlette's ASGI test client: access token, CSRF, Host check, filters, corrections written
to the overrides file and the score computed again, hostile answer text rendered inert."""

from __future__ import annotations

import html
import json
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from review_support import REPO, graded_results, record_of
from starlette.testclient import TestClient

from grader.bank.loader import load_bank
from grader.cohort.corrections import rescore
from grader.cohort.overrides import overrides_path
from grader.review.app import create_app
from grader.review.desk import Desk, describe_questions
from grader.review.guard import Guard

BASE = "http://127.0.0.1:8123"


@pytest.fixture
def results(tmp_path: Path) -> Path:
    return graded_results(tmp_path)


@pytest.fixture
def guard() -> Guard:
    return Guard()


@pytest.fixture
def client(results: Path, guard: Guard) -> TestClient:
    """A client that has opened the printed URL (so it holds the token's cookie)."""
    desk = Desk(results, "sam", describe_questions(load_bank(REPO), {"cicd-3", "security-3"}))
    client = TestClient(create_app(desk, guard), base_url=BASE, follow_redirects=False)
    first = client.get(f"/?token={guard.token}")
    assert first.status_code == 303 and first.headers["location"] == "/"
    return client


class Tags(HTMLParser):
    """Every start tag and its attributes, and the page's text."""

    def __init__(self, page: str) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []
        self.feed(page)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def answer_links(page: str) -> list[str]:
    """The queue's answers, in order (each row links once)."""
    return [html.unescape(link) for link in re.findall(r'<tr data-href="(/answer/[0-9a-f]+[^"#]*)"', page)]


def key_of(results: Path, candidate: str, question: str) -> str:
    return record_of(results, candidate, question)["key"]


# --- access ------------------------------------------------------------------------------------------------------


def test_every_request_needs_the_token(results: Path, guard: Guard) -> None:
    client = TestClient(create_app(Desk(results), guard), base_url=BASE, follow_redirects=False)
    key = key_of(results, "alice", "cicd-3")
    for path in ("/", "/questions", f"/answer/{key}", "/static/review.js"):
        response = client.get(path)
        assert response.status_code == 403 and "grade review" in response.text and key not in response.text
    assert client.get("/?token=wrong").status_code == 403
    client.cookies.set(guard.cookie, "wrong")
    assert client.get("/").status_code == 403
    client.cookies.clear()
    opened = client.get(f"/questions?token={guard.token}&x=1")
    assert opened.status_code == 303 and opened.headers["location"] == "/questions?x=1"
    cookie = opened.headers["set-cookie"]
    assert "httponly" in cookie.lower() and "samesite=strict" in cookie.lower()
    assert client.get("/questions").status_code == 200


def test_a_foreign_host_is_refused_even_with_the_token(client: TestClient) -> None:
    assert client.get("/", headers={"host": "evil.example:8123"}).status_code == 400
    assert client.get("/", headers={"host": "localhost:8123"}).status_code == 200


def test_pages_forbid_scripts_from_anywhere_else(client: TestClient) -> None:
    response = client.get("/")
    policy = response.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "default-src 'none'" in policy and "frame-ancestors 'none'" in policy
    assert response.headers["x-content-type-options"] == "nosniff"
    assert client.get("/static/review.js").headers["content-type"].startswith("text/javascript")


# --- the queue ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        pytest.param("", {"alice", "bob", "carol"}, id="everything"),
        pytest.param("question=security-3", {"alice", "bob"}, id="question"),
        pytest.param("candidate=AL", {"alice"}, id="candidate-part-any-case"),
        pytest.param("band=poor&question=security-3", {"bob"}, id="band"),
        pytest.param("min_score=9", {"alice"}, id="min-score"),
        pytest.param("state=reviewed", set(), id="none-reviewed-yet"),
        pytest.param("issue=error", set(), id="no-errors"),
        pytest.param("sort=nonsense&min_score=abc", {"alice", "bob", "carol"}, id="nonsense-ignored"),
    ],
)
def test_queue_filters(client: TestClient, query: str, expected: set[str]) -> None:
    page = client.get(f"/?{query}").text
    rows = re.findall(r'<tr data-href="/answer/[0-9a-f]+[^"]*"[^>]*>\s*<td><a [^>]*>([^<]+)</a>', page)
    assert set(rows) == expected


def test_queue_sorted_by_score(client: TestClient, results: Path) -> None:
    page = client.get("/?sort=-score").text
    scores = [float(s) for s in re.findall(r'<td class="num">(?:<s[^>]*>[^<]*</s> )?(\d+\.\d)</td>', page)]
    assert len(scores) == 5 and scores == sorted(scores, reverse=True)


def test_questions_page_shows_each_question_and_its_concepts(client: TestClient) -> None:
    page = client.get("/questions").text
    assert "cicd-3" in page and "security-3" in page and "How do you handle blue-green or canary" in page


# --- corrections -------------------------------------------------------------------------------------------------


def test_setting_a_concept_recomputes_the_score_and_writes_one_line(client: TestClient, results: Path,
                                                                    guard: Guard) -> None:  # fmt: skip
    record = record_of(results, "bob", "cicd-3")
    concept = next(c for c in record["grade"]["concepts"] if c["status"] == "missing")
    response = client.post(
        f"/answer/{record['key']}/status?question=cicd-3",
        data={"csrf": guard.csrf, "concept": concept["id"], "status": "covered", "comment": "it is there"},
    )
    assert response.status_code == 303
    number = [c["id"] for c in record["grade"]["concepts"]].index(concept["id"]) + 1
    assert response.headers["location"] == f"/answer/{record['key']}?question=cicd-3#c{number}"
    lines = overrides_path(results).read_text().splitlines()
    assert len(lines) == 1
    line = json.loads(lines[0])
    assert set(line) == {"candidate", "question_id", "key", "concept_id", "status", "comment", "reviewer", "at"}
    assert (line["candidate"], line["question_id"], line["key"]) == ("bob", "cicd-3", record["key"])
    assert (line["concept_id"], line["status"], line["comment"], line["reviewer"]) == (
        concept["id"], "covered", "it is there", "sam")
    expected = rescore(record["grade"], {concept["id"]: "covered"})
    assert expected > record["grade"]["score"]
    page = client.get(f"/answer/{record['key']}").text
    assert f'<b id="score">{expected:.1f}</b>' in page and "it is there" in page
    queue = client.get("/?state=reviewed").text
    assert f"{expected:.1f}" in queue and f"<s class=\"muted\">{record['grade']['score']:.1f}</s>" in queue


def test_a_total_override_and_its_withdrawal(client: TestClient, results: Path, guard: Guard) -> None:
    key = key_of(results, "alice", "cicd-3")
    machine = record_of(results, "alice", "cicd-3")["grade"]["score"]
    assert client.post(f"/answer/{key}/score", data={"csrf": guard.csrf, "score": "4,5"}).status_code == 303
    assert '<b id="score">4.5</b>' in client.get(f"/answer/{key}").text
    assert client.post(f"/answer/{key}/score", data={"csrf": guard.csrf, "score": ""}).status_code == 303
    assert f'<b id="score">{machine:.1f}</b>' in client.get(f"/answer/{key}").text
    lines = [json.loads(line) for line in overrides_path(results).read_text().splitlines()]
    assert [(x["concept_id"], x["score"]) for x in lines] == [(None, 4.5), (None, None)]
    for bad in ("eleven", "11", "-1"):
        assert client.post(f"/answer/{key}/score", data={"csrf": guard.csrf, "score": bad}).status_code == 400
    assert len(overrides_path(results).read_text().splitlines()) == 2


def test_confirm_sets_every_concept_and_moves_to_the_next_answer(client: TestClient, results: Path,
                                                                 guard: Guard) -> None:  # fmt: skip
    queue = answer_links(client.get("/?state=unreviewed&sort=candidate").text)
    first, second = queue[0], queue[1]
    key = first.split("/")[2].split("?")[0]
    response = client.post(first.replace(f"/answer/{key}", f"/answer/{key}/confirm"), data={"csrf": guard.csrf})
    assert response.status_code == 303 and response.headers["location"] == second
    record = next(r for r in map(json.loads, results.read_text().splitlines()) if r["key"] == key)
    lines = [json.loads(line) for line in overrides_path(results).read_text().splitlines()]
    machine = [(c["id"], c["status"]) for c in record["grade"]["concepts"]]
    assert [(x["concept_id"], x["status"]) for x in lines] == machine
    assert key not in client.get("/?state=unreviewed").text  # reviewed now
    assert client.post(f"/answer/{key}/confirm", data={"csrf": guard.csrf}).status_code == 303
    assert len(overrides_path(results).read_text().splitlines()) == len(lines)  # nothing left to confirm


@pytest.mark.parametrize(
    ("data", "headers"),
    [
        pytest.param({}, {}, id="no-csrf"),
        pytest.param({"csrf": "forged"}, {}, id="wrong-csrf"),
        pytest.param({"csrf": "THE-CSRF"}, {"origin": "http://evil.example"}, id="foreign-origin"),
        pytest.param({"csrf": "THE-CSRF"}, {"sec-fetch-site": "cross-site"}, id="cross-site-fetch"),
    ],
)
def test_corrections_without_the_csrf_value_or_from_another_site_are_refused(
    client: TestClient, results: Path, guard: Guard, data: dict[str, str], headers: dict[str, str]
) -> None:
    key = key_of(results, "bob", "cicd-3")
    form = {"concept": "traffic-switch", "status": "missing", **data}
    form = {k: (guard.csrf if v == "THE-CSRF" else v) for k, v in form.items()}
    response = client.post(f"/answer/{key}/status", data=form, headers=headers)
    assert response.status_code == 403
    assert not overrides_path(results).exists()


def test_a_get_cannot_change_anything(client: TestClient, results: Path) -> None:
    key = key_of(results, "bob", "cicd-3")
    assert client.get(f"/answer/{key}/confirm").status_code == 405
    assert not overrides_path(results).exists()


def test_bad_corrections_are_refused(client: TestClient, results: Path, guard: Guard) -> None:
    key = key_of(results, "bob", "cicd-3")
    for form in ({"concept": "no-such-concept", "status": "covered"}, {"concept": "traffic-switch", "status": "ok"}):
        assert client.post(f"/answer/{key}/status", data={"csrf": guard.csrf, **form}).status_code == 400
    assert client.post("/answer/ffff/status", data={"csrf": guard.csrf}).status_code == 404
    as_json = client.post(f"/answer/{key}/confirm", json={"csrf": guard.csrf})
    assert as_json.status_code == 400
    assert not overrides_path(results).exists()


def test_corrections_from_another_process_show_up(client: TestClient, results: Path, guard: Guard) -> None:
    other = TestClient(create_app(Desk(results, "kim"), guard), base_url=BASE, follow_redirects=False)
    other.get(f"/?token={guard.token}")
    key = key_of(results, "alice", "security-3")
    assert other.post(f"/answer/{key}/score", data={"csrf": guard.csrf, "score": "0.5"}).status_code == 303
    page = client.get(f"/answer/{key}").text
    assert '<b id="score">0.5</b>' in page and "reviewed by kim" in page


# --- hostile text ------------------------------------------------------------------------------------------------


def test_hostile_answer_text_is_rendered_inert(client: TestClient, results: Path) -> None:
    page = client.get(f"/answer/{key_of(results, 'carol', 'cicd-3')}").text
    tags = Tags(page)
    scripts = [attrs.get("src") for tag, attrs in tags.tags if tag == "script"]
    assert scripts == ["/static/review.js"]
    assert not any(tag == "img" for tag, _ in tags.tags)
    assert not any(name.startswith("on") for _, attrs in tags.tags for name in attrs)
    text = "".join(tags.text)
    assert '<script>alert("pwned")</script>' in text and "{{ 7*7 }}" in text  # shown as text, not run
    assert "&lt;script&gt;" in page and "<mark" in page  # its evidence is highlighted around the escaped text
