"""Domain errors. The library raises them; only the CLI turns them into messages and exit codes."""

from __future__ import annotations


class GraderError(Exception):
    """Base of every error the user can act on; `str(error)` is a complete one-line message."""


class UnknownQuestionError(GraderError):
    def __init__(self, question_id: str, suggestions: list[str]) -> None:
        self.question_id = question_id
        self.suggestions = suggestions
        message = f"unknown question '{question_id}'"
        if suggestions:
            message += "; did you mean: " + ", ".join(suggestions) + "?"
        else:
            message += "; list them with 'grade questions list'"
        super().__init__(message)


class BankError(GraderError):
    """The bank cannot be read: a missing folder, broken YAML, a rubric that fails validation."""


class AnswerError(GraderError):
    """The answer cannot be graded: missing, empty, binary, not UTF-8, too large."""


class ConfigError(GraderError):
    """A setting is missing or inconsistent (for example `--mode llm` with no model)."""


class LLMError(GraderError):
    """The model could not produce a usable grade (after retries)."""


class StorageError(GraderError):
    """The history database or a results file cannot be used safely."""
