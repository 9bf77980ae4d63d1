"""Height of the HTML report at 1400 px wide, measured in headless Chromium (Debian's, through Playwright):
document.documentElement.scrollHeight once loaded, every section open (their default).

    .venv/bin/python benchmarks/report_height.py [--candidates 50] [--per-candidate 6] [--save DIR]

Cohorts: the synthetic results of tests/cohorts.py (the bank's real concepts, random verdicts, one answer in 23
failed): each candidate answers 6 questions drawn from the bank's 28, then all answer the same 6; and, as the
baseline, the same cohorts with candidate names that share no prefix (heatmap headers then show whole names).
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from cohorts import cohort_records, question_texts
from private_home import use_private_home

from grader.cohort.coverage import cohort_of
from grader.cohort.report import ReportContext, write_report

ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run"]  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--candidates", type=int, default=50)
    parser.add_argument("--per-candidate", type=int, default=6)
    parser.add_argument("--save", type=Path, help="keep the reports and full-page screenshots here")
    args = parser.parse_args()
    use_private_home()
    from playwright.sync_api import sync_playwright

    chromium_path = shutil.which("chromium")
    folder = args.save or Path(tempfile.mkdtemp())
    folder.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_path, args=ARGS)
        for same in (False, True):
            for plain_names in (False, True):
                records = cohort_records(args.candidates, args.per_candidate, same_questions=same)
                if plain_names:
                    names = ["olivia", "liam", "emma", "noah", "amelia", "oliver", "ava", "elijah", "sophia", "lucas"]
                    for record in records:
                        index = int(record["candidate"].split("-")[1])
                        record["candidate"] = f"{names[index % 10]}.{'abcdefgh'[index // 10 % 8]}smith"
                label = f"{'same' if same else 'drawn'}-{'names' if plain_names else 'numbered'}"
                path = folder / f"report-{label}.html"
                context = ReportContext(source="results.jsonl", questions=question_texts())
                write_report(cohort_of(records), path, context)
                page = browser.new_page(viewport={"width": 1400, "height": 900})
                page.goto(path.as_uri())
                height = page.evaluate("document.documentElement.scrollHeight")
                width = page.evaluate("document.documentElement.scrollWidth")
                if args.save:
                    page.screenshot(path=str(folder / f"report-{label}.png"), full_page=True)
                page.close()
                questions = len({r["question_id"] for r in records})
                print(f"{label:16} {len(records)} answers, {args.candidates} candidates, {questions} questions: "
                      f"{height} px tall, {width} px wide")  # fmt: skip
        browser.close()


if __name__ == "__main__":
    main()
