"""Benchmark: grading quality on real answers with labels of how complete they are for our question.

    python benchmarks/real_answers.py LABELLED.jsonl [--fold all|A|B] [--show] [--json]

LABELLED.jsonl holds one answer a line: `question_id` (a bank question), `answer`, and the label in
`completeness` (or `label`): `full`, `partial` or `thin` (e.g. ../shared/data/devops-dev.jsonl, real answers
from public interview repositories). Reported, on the keyword grader (the offline default):

- the median score of each label (targets: full >= 7.5, thin <= 2.5);
- Spearman's rank correlation of label (thin 0 < partial 1 < full 2) and score (target >= 0.65);
- AUC own vs. unrelated (target >= 0.95): how often an answer graded against its own question scores above an
  answer graded against an unrelated question (ties count half). Each answer is paired with one unrelated
  question: the question at the same position in the next category. The stricter `AUC vs every other
  category` grades each answer against every question of the other categories, overlapping ones included
  (an HA answer against "how do you manage containers at scale").

`--fold A|B` keeps one half of the file: within each label, answers are ordered by a hash of their text and
dealt alternately to A and B, so each half has about half of each label. Choose on one half, report on the
other. `--show` lists every answer of the selected fold with its score and verdicts (for fold A only, by
convention: never look at the half you report on).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import statistics
import sys
from collections import defaultdict
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from private_home import use_private_home  # noqa: E402

from grader.bank.loader import load_bank  # noqa: E402
from grader.calibration.agreement import ranks, spearman  # noqa: E402
from grader.pipeline import grade_by_keywords  # noqa: E402

ORDER = {"thin": 0, "partial": 1, "full": 2}


def read(path: Path) -> list[dict]:
    rows = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            row = json.loads(line)
            row["label"] = row.get("completeness") or row.get("label")
            if row["label"] not in ORDER:
                raise SystemExit(f"{path}: unknown label {row['label']!r}")
            rows.append(row)
    return rows


def fold_of(rows: list[dict]) -> dict[int, str]:
    """Within each label, by hash of the answer, alternately A and B."""
    folds: dict[int, str] = {}
    for label in ORDER:
        members = [i for i, r in enumerate(rows) if r["label"] == label]
        members.sort(key=lambda i: hashlib.sha256(rows[i]["answer"].encode()).hexdigest())
        for position, index in enumerate(members):
            folds[index] = "AB"[position % 2]
    return folds


def auc(positives: list[float], negatives: list[float]) -> float:
    """P(positive > negative) + half the ties (Mann-Whitney U)."""
    if not positives or not negatives:
        return float("nan")
    values = positives + negatives
    rank = ranks(values)  # ties share their mean rank
    rank_sum = sum(rank[: len(positives)]) + len(positives)  # ranks() is 0-based
    u = rank_sum - len(positives) * (len(positives) + 1) / 2
    return u / (len(positives) * len(negatives))


def evaluate(rows: list[dict], bank_root: Path | None = None, show: bool = False) -> dict:
    bank = load_bank(bank_root)
    questions = list(bank.questions.values())
    by_category: dict[str, list[str]] = defaultdict(list)
    for q in questions:
        by_category[q.category].append(q.id)
    categories = list(by_category)
    own: list[float] = []
    unrelated_all: list[float] = []
    unrelated_one: list[float] = []
    per_label: dict[str, list[float]] = defaultdict(list)
    for row in rows:
        question = bank.question(row["question_id"])
        grade = grade_by_keywords(bank.rubric(question.id), row["answer"])
        row["score"] = grade.score
        own.append(grade.score)
        per_label[row["label"]].append(grade.score)
        for other in questions:
            if other.category != question.category:
                unrelated_all.append(grade_by_keywords(bank.rubric(other.id), row["answer"]).score)
        siblings = by_category[question.category]
        position = siblings.index(question.id)
        next_category = by_category[categories[(categories.index(question.category) + 1) % len(categories)]]
        pick = next_category[position % len(next_category)]
        unrelated_one.append(grade_by_keywords(bank.rubric(pick), row["answer"]).score)
        if show:
            words = len(row["answer"].split())
            head = f"{row['question_id']} {row['label']} ({words} words)"
            print(f"\n=== {head}: {grade.score} {grade.band} {grade.flags}")
            for c in grade.concepts:
                print(f"  {c.status:8} w{c.weight:<4g} {c.id:28} {', '.join(c.matched)[:90]}")
            for m in grade.misconceptions:
                print(f"  MISCONCEPTION {m.id}: {m.evidence}")
    labels = [ORDER[r["label"]] for r in rows]
    ordered = sorted(per_label.items(), key=lambda item: ORDER[item[0]])
    return {
        "answers": len(rows),
        "median": {label: round(statistics.median(v), 2) for label, v in ordered},
        "mean": {label: round(statistics.fmean(v), 2) for label, v in ordered},
        "spearman": round(spearman(labels, own) or float("nan"), 3),
        "auc": round(auc(own, unrelated_one), 3),
        "auc_every_other_category": round(auc(own, unrelated_all), 3),
        "unrelated_median": statistics.median(unrelated_all),
        "unrelated_p95": sorted(unrelated_all)[int(0.95 * (len(unrelated_all) - 1))],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("labelled", type=Path)
    parser.add_argument("--fold", choices=["all", "A", "B"], default="all")
    parser.add_argument("--bank", type=Path, default=None, help="bank folder (default: the repository's)")
    parser.add_argument("--show", action="store_true", help="list every answer's grade (fold A only)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    use_private_home()
    rows = read(args.labelled)
    if args.fold != "all":
        folds = fold_of(rows)
        rows = [r for i, r in enumerate(rows) if folds[i] == args.fold]
    if args.show and args.fold != "A":
        raise SystemExit("--show lists answers of fold A only (choose on A, report on B)")
    result = evaluate(rows, args.bank, args.show)
    if args.json:
        print(json.dumps(result))
        return
    print(f"{args.labelled.name} fold {args.fold}: {result['answers']} answers")
    print("  median score: " + ", ".join(f"{k} {v}" for k, v in result["median"].items()))
    print("  mean score:   " + ", ".join(f"{k} {v}" for k, v in result["mean"].items()))
    print(f"  Spearman(label, score) = {result['spearman']}")
    print(f"  AUC own vs unrelated question = {result['auc']} "
          f"(vs every question of the other categories: {result['auc_every_other_category']}; "
          f"their median {result['unrelated_median']}, p95 {result['unrelated_p95']})")


if __name__ == "__main__":
    main()
