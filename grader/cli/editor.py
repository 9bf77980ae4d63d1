"""Writing an answer in the user's editor ($VISUAL, else $EDITOR, else vi), as git and crontab do.

typer >= 0.26 no longer re-exports click's `edit` (it vendors its own click), so this is the few lines it did:
a temporary file with a template, the editor run on it, and the file read back.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import tempfile
from pathlib import Path

from grader.errors import AnswerError

DEFAULT_EDITOR = "vi"


def editor_command() -> list[str]:
    """The editor to run, split like a shell would (`code --wait` is two words)."""
    named = os.environ.get("VISUAL") or os.environ.get("EDITOR") or DEFAULT_EDITOR
    try:
        return shlex.split(named)
    except ValueError as exc:
        raise AnswerError(f"cannot read the editor command {named!r}: {exc}") from None


def edit(template: str, extension: str = ".md") -> str | None:
    """The text the user saved in the editor, starting from `template`; None when the file was not saved.
    Raises AnswerError when the editor cannot be started or fails."""
    command = editor_command()
    handle, name = tempfile.mkstemp(prefix="grade-answer-", suffix=extension)
    path = Path(name)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as file:
            file.write(template)
        before = path.stat().st_mtime_ns
        try:
            finished = subprocess.run([*command, str(path)], check=False)
        except OSError as exc:
            raise AnswerError(
                f"cannot start the editor {command[0]!r}: {exc.strerror or exc}; set $EDITOR to one you have"
            ) from None
        if finished.returncode != 0:
            raise AnswerError(f"the editor {command[0]!r} exited with code {finished.returncode}; nothing graded")
        text = path.read_text(encoding="utf-8", errors="replace")
        if path.stat().st_mtime_ns == before and text == template:
            return None
        return text
    finally:
        path.unlink(missing_ok=True)
