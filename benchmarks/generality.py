"""How well do the rubrics generalise to answers written by other people? Run by hand:

    .venv/bin/python benchmarks/generality.py [--answers FILE] [--bank DIR] [--worst 10] [--json]

Grades a held-out set of answers (default benchmarks/generality/answers.yaml, written without looking at the
rubrics or the kit answers) with the keyword grader. Each question has three answers:

- complete: a full interview answer (120-250 words);
- brief: a correct one- or two-sentence answer (15-40 words);
- informal: a different person's informal but substantively good answer (80-160 words).

On-topic answers are a question's own complete and informal answers. Off-topic answers are the complete and
informal answers of every question of a DIFFERENT category, graded against this question's rubric.

Per question it prints the three on-topic scores and the highest off-topic score (with the answer that got
it); overall, the means, the share of off-topic answers beaten by both on-topic answers, the share of
questions where complete / informal beat brief, the 95th percentile and max off-topic score, and an AUC: the
probability that a random on-topic answer outscores a random off-topic answer on the same question (ties 1/2).
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import yaml
from private_home import use_private_home

from grader.bank.loader import Bank, load_bank
from grader.keyword.grader import grade_by_keywords

REPO = Path(__file__).resolve().parent.parent
DEFAULT_ANSWERS = REPO / "benchmarks" / "generality" / "answers.yaml"
KINDS = ("complete", "brief", "informal")
ON_TOPIC = ("complete", "informal")  # also the kinds used as off-topic answers on other questions
WORDS = {"complete": (120, 250), "brief": (15, 40), "informal": (80, 160)}


@dataclass(frozen=True)
class Answer:
    question_id: str
    category: str
    kind: str
    text: str

    @property
    def label(self) -> str:
        return f"{self.question_id}/{self.kind}"


@dataclass
class QuestionResult:
    question_id: str
    category: str
    complete: float
    brief: float
    informal: float
    off_max: float
    off_max_by: str
    off_scores: list[tuple[str, float]] = field(default_factory=list)

    @property
    def on_min(self) -> float:
        return min(self.complete, self.informal)

    @property
    def margin(self) -> float:
        """The weaker on-topic score minus the best off-topic score: negative means an off-topic answer won."""
        return self.on_min - self.off_max


@dataclass
class Summary:
    questions: int
    answers_file: str
    mean_on_topic: float
    mean_complete: float
    mean_informal: float
    mean_brief: float
    mean_off_topic: float
    off_topic_pairs: int
    share_both_beat_off_topic: float
    share_complete_gt_brief: float
    share_informal_gt_brief: float
    p95_off_topic: float
    max_off_topic: float
    max_off_topic_case: str
    auc: float
    warnings: list[str]


def read_answers(path: Path, bank: Bank) -> tuple[list[Answer], list[str]]:
    """The answers of the file, with their question's category; warnings for gaps and odd lengths."""
    data: Any = yaml.safe_load(path.read_text(encoding="utf-8"))
    if not isinstance(data, list):
        raise SystemExit(f"{path}: expected a list of entries")
    answers: list[Answer] = []
    warnings: list[str] = []
    seen: set[str] = set()
    for entry in data:
        question_id = str(entry["question_id"])
        if question_id in seen:
            warnings.append(f"{question_id}: duplicate entry, later one ignored")
            continue
        seen.add(question_id)
        category = bank.question(question_id).category
        for kind in KINDS:
            text = str(entry.get(kind) or "").strip()
            if not text:
                warnings.append(f"{question_id}: no {kind} answer")
                continue
            low, high = WORDS[kind]
            words = len(text.split())
            if not low <= words <= high:
                warnings.append(f"{question_id}/{kind}: {words} words (expected {low}-{high})")
            answers.append(Answer(question_id, category, kind, text))
    missing = [q for q in bank.questions if q not in seen]
    if missing:
        warnings.append(f"no answers for: {', '.join(missing)}")
    return answers, warnings


def percentile(values: list[float], share: float) -> float:
    """Linear-interpolated percentile (share in 0..1) of a non-empty list."""
    ordered = sorted(values)
    position = share * (len(ordered) - 1)
    low, high = math.floor(position), math.ceil(position)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def mean(values: list[float]) -> float:
    return statistics.fmean(values) if values else float("nan")


def evaluate(bank: Bank, answers: list[Answer]) -> tuple[list[QuestionResult], list[str]]:
    """Grade every question's own answers and every cross-category complete/informal answer on its rubric."""
    by_question: dict[str, dict[str, Answer]] = {}
    for answer in answers:
        by_question.setdefault(answer.question_id, {})[answer.kind] = answer
    pool = [a for a in answers if a.kind in ON_TOPIC]
    results: list[QuestionResult] = []
    warnings: list[str] = []
    for question_id, own in by_question.items():
        if not bank.has_rubric(question_id):
            warnings.append(f"{question_id}: no rubric, skipped")
            continue
        if any(kind not in own for kind in KINDS):
            warnings.append(f"{question_id}: incomplete answers, skipped")
            continue
        rubric = bank.rubric(question_id)
        category = own["complete"].category
        scores = {kind: grade_by_keywords(rubric, own[kind].text).score for kind in KINDS}
        off = [(a.label, grade_by_keywords(rubric, a.text).score) for a in pool if a.category != category]
        best_label, best = max(off, key=lambda pair: pair[1]) if off else ("-", float("nan"))
        results.append(
            QuestionResult(
                question_id=question_id,
                category=category,
                complete=scores["complete"],
                brief=scores["brief"],
                informal=scores["informal"],
                off_max=best,
                off_max_by=best_label,
                off_scores=off,
            )
        )
    return results, warnings


def summarise(results: list[QuestionResult], answers_file: Path, warnings: list[str]) -> Summary:
    on = [s for r in results for s in (r.complete, r.informal)]
    off = [s for r in results for _, s in r.off_scores]
    beaten = [r.complete > s and r.informal > s for r in results for _, s in r.off_scores]
    wins = ties = pairs = 0
    for r in results:
        for mine in (r.complete, r.informal):
            for _, theirs in r.off_scores:
                pairs += 1
                wins += mine > theirs
                ties += mine == theirs
    worst_off = max(results, key=lambda r: r.off_max) if results else None
    count = len(results)
    return Summary(
        questions=count,
        answers_file=str(answers_file),
        mean_on_topic=mean(on),
        mean_complete=mean([r.complete for r in results]),
        mean_informal=mean([r.informal for r in results]),
        mean_brief=mean([r.brief for r in results]),
        mean_off_topic=mean(off),
        off_topic_pairs=len(off),
        share_both_beat_off_topic=sum(beaten) / len(beaten) if beaten else float("nan"),
        share_complete_gt_brief=sum(r.complete > r.brief for r in results) / count if count else float("nan"),
        share_informal_gt_brief=sum(r.informal > r.brief for r in results) / count if count else float("nan"),
        p95_off_topic=percentile(off, 0.95) if off else float("nan"),
        max_off_topic=max(off) if off else float("nan"),
        max_off_topic_case=f"{worst_off.off_max_by} on {worst_off.question_id}" if worst_off else "-",
        auc=(wins + ties / 2) / pairs if pairs else float("nan"),
        warnings=warnings,
    )


def print_table(results: list[QuestionResult]) -> None:
    print(f"{'question':<14} {'complete':>8} {'brief':>6} {'informal':>8} {'off-max':>8}  off-max answer")
    for r in results:
        flag = "  <-- off-topic >= on-topic" if r.margin <= 0 else ""
        print(
            f"{r.question_id:<14} {r.complete:>8.1f} {r.brief:>6.1f} {r.informal:>8.1f} {r.off_max:>8.1f}"
            f"  {r.off_max_by}{flag}"
        )


def print_summary(summary: Summary) -> None:
    print()
    print(f"questions graded                          {summary.questions}")
    print(f"mean on-topic (complete+informal)         {summary.mean_on_topic:.2f}")
    print(f"  mean complete / informal                {summary.mean_complete:.2f} / {summary.mean_informal:.2f}")
    print(f"mean brief                                {summary.mean_brief:.2f}")
    print(f"mean off-topic ({summary.off_topic_pairs} cross-category pairs)  {summary.mean_off_topic:.2f}")
    print(f"off-topic beaten by BOTH on-topic answers {summary.share_both_beat_off_topic:.1%}")
    print(f"questions with complete > brief           {summary.share_complete_gt_brief:.1%}")
    print(f"questions with informal > brief           {summary.share_informal_gt_brief:.1%}")
    print(
        f"off-topic p95 / max                       {summary.p95_off_topic:.2f} / {summary.max_off_topic:.2f}"
        f"  ({summary.max_off_topic_case})"
    )
    print(f"AUC on-topic vs off-topic                 {summary.auc:.3f}")


def print_worst(results: list[QuestionResult], count: int) -> None:
    on = sorted(
        (
            (score, f"{r.question_id}/{kind}")
            for r in results
            for kind, score in (("complete", r.complete), ("informal", r.informal))
        ),
    )[:count]
    off = sorted(
        ((score, f"{label} on {r.question_id}") for r in results for label, score in r.off_scores),
        reverse=True,
    )[:count]
    margins = sorted(results, key=lambda r: r.margin)[:count]
    print(f"\nlowest on-topic scores (top {count})")
    for score, label in on:
        print(f"  {score:>5.1f}  {label}")
    print(f"\nhighest off-topic scores (top {count})")
    for score, label in off:
        print(f"  {score:>5.1f}  {label}")
    print(f"\nsmallest margins: min(complete, informal) - off-topic max (top {count})")
    for r in margins:
        print(
            f"  {r.margin:>+5.1f}  {r.question_id}: on-topic min {r.on_min:.1f}, off-topic {r.off_max:.1f}"
            f" ({r.off_max_by})"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--answers", type=Path, default=DEFAULT_ANSWERS, help="held-out answers YAML")
    parser.add_argument("--bank", type=Path, default=REPO, help="bank root (questions/ and rubrics/)")
    parser.add_argument("--worst", type=int, default=10, help="how many worst cases to list")
    parser.add_argument("--json", action="store_true", help="print the summary as JSON")
    args = parser.parse_args(argv)
    use_private_home()

    bank = load_bank(args.bank)
    answers, warnings = read_answers(args.answers, bank)
    results, skipped = evaluate(bank, answers)
    summary = summarise(results, args.answers, warnings + skipped)
    if args.json:
        json.dump(asdict(summary), sys.stdout, indent=2)
        print()
        return 0
    for warning in summary.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    print_table(results)
    print_summary(summary)
    print_worst(results, args.worst)
    return 0


if __name__ == "__main__":
    sys.exit(main())
