"""Shell completion of question ids and categories (`grade --install-completion`, `--show-completion SHELL`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def _bank(ctx: Any) -> Any:
    """The bank the command line names (--bank, GRADER_BANK), else the default; None when it cannot be read."""
    from grader.bank.loader import load_bank
    from grader.errors import GraderError

    root = ctx.find_root() if ctx is not None else None
    folder = root.params.get("bank") if root is not None and root.params else None
    try:
        return load_bank(Path(folder) if folder else None)
    except GraderError:
        return None


def complete_question(ctx: Any, incomplete: str) -> list[tuple[str, str]]:
    """Question ids starting with what was typed, each with the start of its question as help."""
    bank = _bank(ctx)
    if bank is None:
        return []
    return [(q.id, q.text[:60]) for q in bank.questions.values() if q.id.startswith(incomplete.lower())]


def complete_category(ctx: Any, incomplete: str) -> list[tuple[str, str]]:
    """Categories starting with what was typed, with their titles."""
    bank = _bank(ctx)
    if bank is None:
        return []
    return [(c, title) for c, title in bank.titles.items() if c.startswith(incomplete.lower())]
