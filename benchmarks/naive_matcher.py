"""A naive keyword counter: the baseline that benchmarks/batch_keyword.py measures `grade batch` against.

    python benchmarks/naive_matcher.py TREE --bank DIR --out results.jsonl

It does the same job as `grade batch TREE` on the keyword path, end to end, in the simplest way that works:
read every answer file of the tree (`candidate/question-id.md`), lower-case it, and for each concept of the
question's rubric (`DIR/rubrics/<question-id>.yaml`) count how many of its keywords and synonyms occur in it as
substrings (an alternative written `a ... b` counts when every part occurs); write one JSON line per answer.
No stemming, no sentences, no typo correction, no negation, no score: a floor for the cost of reading the files,
looking at every alternative of a rubric once per answer and writing the results. Its speed moves with the
machine as the grader's does, so the ratio of the two is the figure that survives a change of machine.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import yaml

LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml when PyYAML has it: YAML is not what is measured


def load_concepts(bank: Path) -> dict[str, list[tuple[str, list[list[str]]]]]:
    """Question id -> [(concept id, [the parts of each alternative])], for every rubric of the bank."""
    concepts: dict[str, list[tuple[str, list[list[str]]]]] = {}
    for path in sorted((bank / "rubrics").glob("*.yaml")):
        rubric = yaml.load(path.read_text(encoding="utf-8"), Loader=LOADER)
        found = []
        for concept in rubric.get("concepts") or []:
            synonyms = concept.get("synonyms") or {}
            alternatives = [str(k) for k in concept.get("keywords") or []]
            alternatives += [str(s) for k in concept.get("keywords") or [] for s in synonyms.get(k) or []]
            parts = [[p.strip().lower() for p in a.split("...") if p.strip()] for a in alternatives]
            found.append((concept["id"], [p for p in parts if p]))
        concepts[rubric["question_id"]] = found
    return concepts


def count_hits(text: str, concepts: list[tuple[str, list[list[str]]]]) -> dict[str, int]:
    """Concept id -> how many of its alternatives occur in `text` (already lower-case)."""
    return {
        concept_id: sum(all(part in text for part in parts) for parts in alternatives)
        for concept_id, alternatives in concepts
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("tree", type=Path, help="a folder of candidate folders of <question-id>.md answers")
    parser.add_argument("--bank", type=Path, required=True, help="a bank folder (with rubrics/)")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    concepts = load_concepts(args.bank)
    answers = 0
    with args.out.open("w", encoding="utf-8") as out:
        for path in sorted(args.tree.rglob("*.md")):
            question_id = path.stem
            if question_id not in concepts:
                continue
            text = path.read_text(encoding="utf-8").lower()
            hits = count_hits(text, concepts[question_id])
            line = {"candidate": path.parent.name, "question_id": question_id, "hits": hits}
            out.write(json.dumps(line) + "\n")
            answers += 1
    print(json.dumps({"graded": answers}))


if __name__ == "__main__":
    main()
