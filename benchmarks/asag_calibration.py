"""How well does reference-answer grading agree with human graders? Run by hand:

    .venv/bin/python benchmarks/asag_calibration.py [LABELLED.jsonl] [--folds assignment|question]

It grades the labelled file (default ../shared/data/asag-dev.jsonl, Mohler et al. 2011) on the keyword path
and prints pearson / spearman / qwk / mae / rmse:

- in-sample, with the shipped defaults of grader.keyword.reference.ReferenceSettings;
- held-out: nested cross-validation BY QUESTION GROUP. The records are split into folds (by default by
  assignment, the part of `qid` before the first dot; `--folds question` leaves one question out at a time).
  For each fold every parameter (peer share, number of peer terms, peer feedback, curve) is chosen on the
  OTHER folds by pooled Pearson, and the fold is graded with that choice; the pooled held-out predictions
  are scored. The held-out isotonic mapping is likewise fitted on the other folds only.
- the floor: plain stemmed, idf-weighted recall of the reference's words, question words left out.

No human score ever reaches the grader itself: peers are other answers' texts, idf is over answer texts.
"""

from __future__ import annotations

import argparse
import itertools
import sys
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

from private_home import use_private_home

from grader.calibration import (
    Agreement,
    LabelledRecord,
    agreement,
    fit_isotonic,
    grade_records,
    read_labelled,
    scale_step,
)
from grader.keyword.reference import DEFAULT_SETTINGS, ReferenceSettings
from grader.pipeline import GradeOptions

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "asag-dev.jsonl"
PEER_SHARES = (0.5, 0.7, 0.85, 0.95)
PEER_TERMS = (15, 30, 50, 80)
PEER_FEEDBACK = (0.0, 1.0, 2.0)
CURVES = (0.2, 0.25, 0.3, 0.35, 0.4, 0.5, 0.6, 0.7, 0.85, 1.0)
KEYWORD = GradeOptions(mode="keyword")

Config = tuple[ReferenceSettings, float]  # settings for the share (curve 1), then the curve


def shares(records: Sequence[LabelledRecord], settings: ReferenceSettings, peers: bool) -> list[float]:
    """The weighted share of key terms each answer covers (0-10), i.e. the score with curve 1."""
    linear = ReferenceSettings(**{**settings.__dict__, "curve": 1.0, "peer_curve": 1.0})
    graded = grade_records(records, None, KEYWORD, use_peers=peers, settings=linear)
    return [g.grade.score for g in graded]


def curved(share: float, curve: float) -> float:
    return round(10 * (share / 10) ** curve, 1)


def measure(records: Sequence[LabelledRecord], scores: Sequence[float], step: float) -> Agreement:
    predicted = [s / 10 * r.max_score for s, r in zip(scores, records, strict=True)]
    return agreement(predicted, [r.human for r in records], [r.max_score for r in records], step)


def mapped(train: list[int], test: list[int], records: Sequence[LabelledRecord], scores: Sequence[float]) -> dict:
    points = fit_isotonic([scores[i] for i in train], [records[i].human / records[i].max_score for i in train])
    out = {}
    for i in test:
        out[i] = _interpolate(points, scores[i]) * records[i].max_score
    return out


def _interpolate(points: list[tuple[float, float]], x: float) -> float:
    if x <= points[0][0]:
        return points[0][1]
    if x >= points[-1][0]:
        return points[-1][1]
    for (x0, y0), (x1, y1) in itertools.pairwise(points):
        if x0 <= x <= x1:
            return y0 if x1 == x0 else y0 + (y1 - y0) * (x - x0) / (x1 - x0)
    return points[-1][1]


def fold_of(record: LabelledRecord, how: str) -> str:
    return record.group.split(".")[0] if how == "assignment" else record.group


def pooled_pearson(records: Sequence[LabelledRecord], scores: Sequence[float], rows: list[int]) -> float:
    from grader.calibration import pearson

    value = pearson([scores[i] for i in rows], [records[i].human for i in rows])
    return value if value is not None else -1.0


def nested(records: Sequence[LabelledRecord], table: dict[Config, list[float]], how: str, step: float) -> tuple:
    folds: dict[str, list[int]] = {}
    for i, r in enumerate(records):
        folds.setdefault(fold_of(r, how), []).append(i)
    held = [0.0] * len(records)
    held_mapped = [0.0] * len(records)
    chosen: list[tuple[str, Config]] = []
    for name, test in folds.items():
        train = [i for i in range(len(records)) if fold_of(records[i], how) != name]
        best = max(table, key=lambda config: pooled_pearson(records, table[config], train))
        chosen.append((name, best))
        for i in test:
            held[i] = table[best][i]
        for i, value in mapped(train, test, records, table[best]).items():
            held_mapped[i] = value
    raw = measure(records, held, step)
    calibrated = agreement(held_mapped, [r.human for r in records], [r.max_score for r in records], step)
    return raw, calibrated, chosen


def describe(config: Config) -> str:
    settings, curve = config
    return (f"peer_share={settings.peer_share} peer_terms={settings.peer_terms} "
            f"peer_feedback={settings.peer_feedback} curve={curve}")


def row(label: str, a: Agreement) -> str:
    return (f"| {label} | {a.pearson:.3f} | {a.spearman:.3f} | {a.qwk:.3f} | {a.mae:.3f} | {a.rmse:.3f} |")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("file", nargs="?", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--folds", choices=("assignment", "question"), default="assignment")
    args = parser.parse_args(argv)
    use_private_home()
    started = time.perf_counter()
    records = read_labelled(args.file)
    step = scale_step([r.human for r in records])
    print(f"{args.file.name}: {len(records)} records, {len({r.group for r in records})} questions, step {step:g}")

    floor_settings = ReferenceSettings(curve=1.0, peer_curve=1.0)
    floor = shares(records, floor_settings, peers=False)
    table: dict[Config, list[float]] = {}
    for share, terms, feedback in itertools.product(PEER_SHARES, PEER_TERMS, PEER_FEEDBACK):
        settings = ReferenceSettings(peer_share=share, peer_terms=terms, peer_feedback=feedback)
        linear = shares(records, settings, peers=True)
        for curve in CURVES:
            table[(settings, curve)] = [curved(s, curve) for s in linear]
    reference_only = {(floor_settings, curve): [curved(s, curve) for s in floor] for curve in CURVES}

    d = DEFAULT_SETTINGS
    default_key = next(k for k in table if (k[0].peer_share, k[0].peer_terms, k[0].peer_feedback, k[1])
                       == (d.peer_share, d.peer_terms, d.peer_feedback, d.peer_curve))

    print("\n| setting | pearson | spearman | qwk | mae | rmse |\n|---|---|---|---|---|---|")
    print(row("floor: idf recall of reference words, in-sample (linear 0-10 -> 0-5)", measure(records, floor, step)))
    ref_default = reference_only[(floor_settings, DEFAULT_SETTINGS.curve)]
    print(row(f"reference only, curve {DEFAULT_SETTINGS.curve}, in-sample", measure(records, ref_default, step)))
    raw, cal, chosen_ref = nested(records, reference_only, args.folds, step)
    print(row(f"reference only, held-out by {args.folds}", raw))
    print(row(f"reference only, held-out by {args.folds}, isotonic fitted on other folds", cal))
    print(row("reference + peers, shipped defaults, in-sample", measure(records, table[default_key], step)))
    best = max(table, key=lambda c: pooled_pearson(records, table[c], list(range(len(records)))))
    print(row("reference + peers, best grid point, in-sample (optimistic)", measure(records, table[best], step)))
    raw, cal, chosen = nested(records, table, args.folds, step)
    print(row(f"reference + peers, held-out by {args.folds} (nested CV)", raw))
    print(row(f"reference + peers, held-out by {args.folds}, isotonic fitted on other folds", cal))
    points = fit_isotonic(table[default_key], [r.human / r.max_score for r in records])
    in_map = [_interpolate(points, s) * r.max_score for s, r in zip(table[default_key], records, strict=True)]
    print(row("reference + peers, defaults + isotonic, in-sample", agreement(
        in_map, [r.human for r in records], [r.max_score for r in records], step)))

    print(f"\nbest in-sample grid point: {describe(best)}")
    print(f"chosen on the other folds, over {len(chosen)} held-out folds (reference + peers):")
    for config, count in Counter(describe(config) for _, config in chosen).most_common():
        print(f"  {count:3d} x {config}")
    curves = Counter(config[1] for _, config in chosen_ref).most_common()
    print("chosen curve, reference only: " + ", ".join(f"{curve} ({count} folds)" for curve, count in curves))
    print(f"\n{len(table)} configurations, {time.perf_counter() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
