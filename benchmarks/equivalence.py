"""Every grade of a fixed set of answers against every rubric, one JSON line each: the check that a speed-up
changes no grade. Run by hand, before and after the change, and compare the files byte for byte:

    .venv/bin/python benchmarks/equivalence.py > before.jsonl   # on the old code
    .venv/bin/python benchmarks/equivalence.py > after.jsonl    # on the new code
    cmp before.jsonl after.jsonl && wc -l after.jsonl

The answers: every kit answer (tests/kit/*.yaml: strong, strong_alt, partial, weak), every answer of the
generality set (benchmarks/generality/answers.yaml) and `--batch N` answers made as benchmarks/batch_keyword.py
makes them (default 300), each graded by `grade_by_keywords` against each of the bank's rubrics (own question
and all the others). Each line is `<rubric> TAB <answer> TAB <Grade.model_dump_json()>`. The
grading runs in this process with a temporary GRADER_HOME, in a fixed order; a second pass over the same
answers in reverse order must give the same grades (memos must not change a grade), else it exits with 1.
"""

from __future__ import annotations

import argparse
import random
import sys
from pathlib import Path

import yaml
from batch_keyword import make_answer, source_units
from private_home import use_private_home

from grader.bank.loader import load_bank
from grader.keyword.grader import grade_by_keywords

REPO = Path(__file__).resolve().parent.parent
KIT_KINDS = ("strong", "strong_alt", "partial", "weak")


def answers(batch: int) -> list[tuple[str, str]]:
    """(name, text) of every answer graded."""
    found: list[tuple[str, str]] = []
    for path in sorted((REPO / "tests" / "kit").glob("*.yaml")):
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        found += [(f"kit/{data['question_id']}/{kind}", data[kind]) for kind in KIT_KINDS if data.get(kind)]
    entries = yaml.safe_load((REPO / "benchmarks" / "generality" / "answers.yaml").read_text(encoding="utf-8"))
    for entry in entries:
        found += [
            (f"generality/{entry['question_id']}/{kind}", entry[kind])
            for kind in ("complete", "brief", "informal")
            if entry.get(kind)
        ]
    rng = random.Random(11)
    units = source_units()
    questions = sorted(units)
    for index in range(batch):
        question_id = questions[index % len(questions)]
        other = [unit for q in questions if q != question_id for unit in units[q]]
        found.append((f"batch/{index}/{question_id}", make_answer(rng, units[question_id], other, 150, 0.2, 0.01)))
    return found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bank", type=Path, default=REPO)
    parser.add_argument("--batch", type=int, default=300, help="answers made as batch_keyword.py makes them")
    args = parser.parse_args()
    use_private_home()
    bank = load_bank(args.bank)
    rubrics = [bank.rubric(q) for q in sorted(bank.questions) if bank.has_rubric(q)]
    graded = answers(args.batch)
    grades = [grade_by_keywords(rubric, text).model_dump_json() for _, text in graded for rubric in rubrics]
    backwards = [(rubric, text) for _, text in reversed(graded) for rubric in reversed(rubrics)]
    again = [grade_by_keywords(rubric, text).model_dump_json() for rubric, text in backwards]
    if again[::-1] != grades:
        print("a second pass in reverse order gave different grades", file=sys.stderr)
        return 1
    names = [f"{rubric.question_id}\t{name}" for name, _ in graded for rubric in rubrics]
    sys.stdout.write("".join(f"{name}\t{grade}\n" for name, grade in zip(names, grades, strict=True)))
    print(f"{len(grades)} grades: {len(graded)} answers x {len(rubrics)} rubrics", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
