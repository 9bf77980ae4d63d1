"""How commands present themselves in `--help`: human metavars and an example section for every command.

Typer shows each option's Python type (`<bool>`, `<str>`, `<list[Path]>`); `HumanCommand` and `HumanGroup`
replace them, when the commands are built, by what a person types: nothing for a flag, TEXT, N, NUMBER, FILE,
DIR, PATH, or the choices.
"""

from __future__ import annotations

from typing import Any

from typer.core import TyperArgument, TyperCommand, TyperGroup, TyperOption

# Examples shown at the end of each command's help, by command path. Each line is run by tests/test_help.py's
# examples check only for its form (every flag it uses exists); the tour in docs/cli.md runs them for real.
EXAMPLES: dict[str, tuple[str, ...]] = {
    "answer": (
        "grade answer -q cicd-3 -f examples/answers/cicd-3.md",
        "grade answer -q cicd-3 --editor --full",
        "grade answer -q cicd-3 -f answer.md --json",
        "grade answer -q cicd-3 -f answer.md -m gpt-4o-mini --verbose",
    ),
    "batch": (
        "grade batch answers/ -o results.jsonl -r report.html -r gradebook.csv",
        "grade batch answers.csv -o results.jsonl --quiet --json",
    ),
    "coverage": ("grade coverage results.jsonl", "grade coverage results.jsonl -q cicd-3 -r cicd-3.md"),
    "practice": ("grade practice", "grade practice -c security -t 5"),
    "history": ("grade history", "grade history -q cicd-3 -n 5", "grade history show 12"),
    "history show": ("grade history show 12", "grade history show 12 --show-model-answer"),
    "progress": ("grade progress", "grade progress -c security --json"),
    "export": ("grade export -o attempts.jsonl",),
    "calibrate": ("grade calibrate labelled.jsonl", "grade calibrate labelled.jsonl --fit mapping.json"),
    "config": ("grade config", "grade config --json"),
    "doctor": ("grade doctor", "grade doctor -m openai/smollm2 --api-base http://127.0.0.1:8080/v1"),
    "questions": ("grade questions list -c cicd", "grade questions show cicd-3 --model-answer"),
    "questions list": ("grade questions list", "grade questions list -c security --json"),
    "questions show": ("grade questions show cicd-3", "grade questions show cicd-3 --model-answer"),
    "questions import": ("grade questions import interview.md -o mybank --draft-rubrics",),
    "rubrics": ("grade rubrics check", "grade rubrics check mybank --strict"),
    "rubrics check": ("grade rubrics check", "grade rubrics check mybank --strict"),
}

_TYPE_METAVAR = {"text": "TEXT", "str": "TEXT", "integer": "N", "int": "N", "float": "NUMBER"}


def epilog(command_path: str) -> str | None:
    """The examples section of a command's help."""
    lines = EXAMPLES.get(command_path)
    if not lines:
        return None
    return "[bold]Examples[/bold]\n\n" + "\n\n".join(f"  [cyan]$ {line}[/cyan]" for line in lines)


def human_metavar(param: Any) -> str:
    """What to show after an option in --help: nothing for a flag, else what the user types."""
    if getattr(param, "is_bool_flag", False) or getattr(param, "is_flag", False):
        return ""
    descriptor = getattr(param, "type_descriptor", None)  # typer >= 0.26 (its own click); else a click type
    if descriptor is not None:
        choices = descriptor.choices
        path = descriptor.path_type if descriptor.is_path else None
        annotation = descriptor.annotation
        kind = getattr(annotation, "__name__", "").lower()
    else:
        choices = getattr(param.type, "choices", None)
        kind = getattr(param.type, "name", "")
        okay = getattr(param.type, "file_okay", True), getattr(param.type, "dir_okay", True)
        path = ("file" if not okay[1] else "dir" if not okay[0] else "path") if kind == "path" else None
    if choices:
        return "|".join(str(getattr(c, "value", c)) for c in choices)
    if path:
        return path.upper()
    return _TYPE_METAVAR.get(kind, "VALUE")


def _humanise(params: list[Any]) -> None:
    for param in params:
        if isinstance(param, TyperOption) and param.metavar is None:
            param.metavar = human_metavar(param)
        elif isinstance(param, TyperArgument):
            param.display_type_rich = _no_type  # the argument's name says it; no <list[Path]> beside it


def _no_type(ctx: Any = None) -> None:
    return None


def _usage(command: Any, ctx: Any) -> list[str]:
    """`[OPTIONS] INPUT... [DIR]`: required arguments bare, optional ones in brackets (typer writes {INPUT})."""
    pieces = [command.options_metavar] if command.options_metavar else []
    for param in command.get_params(ctx):
        if isinstance(param, TyperArgument):
            name = param.metavar or (param.name or "").upper()
            name = name if param.required else f"[{name}]"
            pieces.append(name + ("..." if param.nargs != 1 else ""))
    return pieces


class HumanCommand(TyperCommand):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _humanise(self.params)

    def get_params(self, ctx: Any) -> list[Any]:
        params = super().get_params(ctx)
        _humanise(params)  # also the options typer adds later (--install-completion)
        return params

    def collect_usage_pieces(self, ctx: Any) -> list[str]:
        return _usage(self, ctx)

    def get_help_option(self, ctx: Any) -> Any:
        option = super().get_help_option(ctx)
        if option is not None:
            option.metavar = ""
        return option


class HumanGroup(TyperGroup):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _humanise(self.params)

    def get_params(self, ctx: Any) -> list[Any]:
        params = super().get_params(ctx)
        _humanise(params)
        return params

    def get_help_option(self, ctx: Any) -> Any:
        option = super().get_help_option(ctx)
        if option is not None:
            option.metavar = ""
        return option
