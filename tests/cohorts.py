"""Synthetic cohorts of results lines with the real bank's concepts, for report tests and the report benchmark."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

from grader.bank.loader import load_bank

REPO = Path(__file__).resolve().parent.parent
STATUSES = ("covered", "partial", "missing")


def cohort_records(candidates: int = 50, per_candidate: int = 6, *, same_questions: bool = False,
                   failed_every: int = 23, seed: int = 7) -> list[dict[str, Any]]:  # fmt: skip
    """Results lines: each candidate answers `per_candidate` questions (the same ones, or a random draw from the
    bank), every `failed_every`-th answer an error line (an empty answer)."""
    bank = load_bank(REPO)
    questions = [q.id for q in bank.questions.values() if bank.has_rubric(q.id)]
    rng = random.Random(seed)
    records = []
    count = 0
    for index in range(candidates):
        name = f"candidate-{index:02d}"
        chosen = questions[:per_candidate] if same_questions else rng.sample(questions, per_candidate)
        for question_id in chosen:
            count += 1
            source = f"{name}/{question_id}.md"
            if count % failed_every == 0:
                records.append({"candidate": name, "question_id": question_id, "source": source, "key": source,
                                "error": "the answer is empty", "exit_kind": "answer"})  # fmt: skip
                continue
            concepts = [
                {"id": c.id, "name": c.name, "weight": c.weight, "status": rng.choice(STATUSES)}
                for c in bank.rubric(question_id).concepts
            ]
            score = round(rng.uniform(0, 10), 1)
            grade = {"question_id": question_id, "score": score, "max_score": 10, "band": "fair", "method": "keyword",
                     "concepts": concepts, "fallback_reason": None, "flags": []}  # fmt: skip
            records.append({"candidate": name, "question_id": question_id, "source": source, "key": source,
                            "grade": grade})  # fmt: skip
    return records


def question_texts() -> dict[str, str]:
    return {q.id: q.text for q in load_bank(REPO).questions.values()}
