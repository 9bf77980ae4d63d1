"""The keyword path stays light: no LLM stack (and no rich) is imported to grade an answer as JSON."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PROBE = """
import json, runpy, sys
sys.argv = ["grade", *sys.argv[1:]]
try:
    runpy.run_module("grader", run_name="__main__")
except SystemExit:
    pass
heavy = sorted({m.split(".")[0] for m in sys.modules} & {"litellm", "openai", "httpx", "aiohttp", "rich", "starlette",
                                                         "uvicorn", "jinja2", "selenium"})
heavy += sorted(m for m in sys.modules if m.startswith("grader.review"))
print(json.dumps(heavy), file=sys.stderr)
"""


def loaded_modules(*args: str) -> list[str]:
    result = subprocess.run(
        [sys.executable, "-c", PROBE, *args], capture_output=True, text=True, timeout=60, check=True
    )
    return json.loads(result.stderr.strip().splitlines()[-1])


def test_keyword_json_path_imports_no_llm_stack_and_no_rich(grader_home: Path) -> None:
    answer = REPO / "examples" / "answers" / "cicd-3.md"
    assert loaded_modules("answer", "--question", "cicd-3", "--file", str(answer), "--json") == []


def test_help_imports_no_llm_stack() -> None:
    assert not set(loaded_modules("--help")) & {"litellm", "openai", "httpx", "aiohttp"}


def test_help_imports_no_review_app() -> None:
    """`grade --help` builds every command, `grade review` too, without its web stack (the review extra)."""
    assert not set(loaded_modules("--help")) & {"starlette", "uvicorn", "jinja2", "grader.review"}
    assert loaded_modules("review", "--help") == ["rich"]
