"""`grade calibrate`: reading labelled files, the agreement figures, the isotonic mapping, the CLI."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from grader.calibration import (
    CalibrationMapping,
    LabelledDataError,
    agreement,
    fit_isotonic,
    load_mapping,
    pearson,
    quadratic_weighted_kappa,
    read_labelled,
    save_mapping,
    scale_step,
)
from grader.cli import app
from grader.errors import ConfigError
from grader.models import Grade

REPO = Path(__file__).resolve().parent.parent
ASAG_ENV = "GRADER_ASAG_DEV"  # the full development set is not in the repository: name it to run that test
ASAG = Path(os.environ.get(ASAG_ENV) or "/nonexistent/asag-dev.jsonl")
ASAG_SAMPLE = Path(__file__).parent / "data" / "asag-sample.jsonl"
QUESTION = "What is the role of a prototype program in problem solving?"
REFERENCE = "To simulate the behaviour of portions of the desired software product."
ANSWERS = [
    ("It simulates the behaviour of portions of the desired software product.", 5.0),
    ("To simulate portions of the desired product with a quick program.", 4.5),
    ("A prototype simulates the software so you can test feasibility.", 4.0),
    ("It is a quick test of the software product.", 3.0),
    ("It helps to see the problem.", 2.0),
    ("No idea.", 0.0),
]


def write_labelled(path: Path, rows: list[dict]) -> Path:
    path.write_text("\n".join(json.dumps(row) for row in rows) + "\n")
    return path


def small_file(tmp_path: Path) -> Path:
    rows = [
        {"id": f"a{i}", "qid": "1.1", "question": QUESTION, "reference": REFERENCE, "answer": answer,
         "score": score, "max_score": 5}
        for i, (answer, score) in enumerate(ANSWERS)
    ]
    return write_labelled(tmp_path / "labelled.jsonl", rows)


# --- figures ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("values", "step"),
    [
        pytest.param([0, 1, 5], 1.0, id="integers"),
        pytest.param([0, 2.5, 4.5], 0.5, id="halves"),
        pytest.param([0.25, 1], 0.25, id="quarters"),
        pytest.param([0.3, 1], 0.1, id="tenths"),
    ],
)
def test_scale_step(values: list[float], step: float) -> None:
    assert scale_step(values) == step


def test_qwk_matches_a_hand_computed_value() -> None:
    # observed disagreement: one pair off by 1 -> num = 1; expected: hist a {0:1,1:1,2:1}, b {0:1,1:2}
    # den = (1*1*0 + 1*2*1 + 1*1*1 + 1*2*0 + 1*1*4 + 1*2*1) / 3 = 9/3 = 3 -> kappa = 1 - 1/3
    assert quadratic_weighted_kappa([0, 1, 2], [0, 1, 1]) == pytest.approx(2 / 3)
    assert quadratic_weighted_kappa([0, 1, 2], [0, 1, 2]) == 1.0
    assert quadratic_weighted_kappa([1, 1], [1, 1]) is None  # a single category: undefined


def test_agreement_figures() -> None:
    human = [0.0, 2.5, 5.0]
    perfect = agreement(human, human, [5, 5, 5], 0.5)
    assert (perfect.pearson, perfect.spearman, perfect.qwk, perfect.mae, perfect.rmse) == (1.0, 1.0, 1.0, 0, 0)
    off = agreement([1.0, 2.5, 5.0], human, [5, 5, 5], 0.5)
    assert off.mae == pytest.approx(1 / 3, abs=1e-4) and off.rmse == pytest.approx((1 / 3) ** 0.5, abs=1e-4)
    assert pearson([1, 1, 1], [0, 1, 2]) is None  # a constant grader has no correlation


def test_qwk_rounds_predictions_to_the_human_steps_and_clips() -> None:
    # 4.8 rounds to 5.0 and 7 is clipped to the maximum: both agree exactly with the humans
    assert agreement([0.1, 4.8, 7.0], [0.0, 5.0, 5.0], [5, 5, 5], 0.5).qwk == 1.0


def test_isotonic_pools_violators_at_their_mean() -> None:
    assert fit_isotonic([1, 2, 3], [0.2, 0.1, 0.9]) == [(1.5, 0.15), (3, 0.9)]
    points = fit_isotonic([0, 0, 5, 10, 10], [0.0, 0.2, 0.5, 1.0, 0.8])
    assert [y for _, y in points] == sorted(y for _, y in points)


def test_mapping_interpolates_clamps_and_round_trips(tmp_path: Path) -> None:
    mapping = CalibrationMapping(human_max=5, points=[(2, 0.2), (6, 0.6)])
    assert [mapping.human(x) for x in (0, 2, 4, 6, 10)] == [1.0, 1.0, 2.0, 3.0, 3.0]
    grade = Grade(question_id="q", score=4, band="weak", method="keyword", concepts=[])
    applied = mapping.apply_to(grade)
    assert (applied.score, applied.calibrated_score, applied.calibrated_max) == (4, 2.0, 5)
    save_mapping(mapping, tmp_path / "sub" / "map.json")
    assert load_mapping(tmp_path / "sub" / "map.json") == mapping


def test_probe14_mappings_that_are_not_monotone_out_of_range_or_nan_are_refused(tmp_path: Path) -> None:
    """Probe 14: such mappings were accepted (9.1 became 30.5/5, or null)."""
    cases = {
        "not-monotone": ('{"human_max": 5, "points": [[2, 0.8], [6, 0.2]]}', "must not decrease"),
        "scores-not-ascending": ('{"human_max": 5, "points": [[6, 0.2], [2, 0.3]]}', "ascending order of score"),
        "fraction-over-1": ('{"human_max": 5, "points": [[2, 0.2], [9, 6.1]]}', "less than or equal to 1"),
        "score-over-10": ('{"human_max": 5, "points": [[2, 0.2], [12, 0.9]]}', "less than or equal to 10"),
        "nan-fraction": ('{"human_max": 5, "points": [[2, 0.2], [9, NaN]]}', "finite number"),
        "infinite-max": ('{"human_max": Infinity, "points": [[2, 0.2]]}', "finite number"),
        "negative-records": ('{"human_max": 5, "points": [[2, 0.2]], "records": -1}', "greater than or equal to 0"),
    }
    for name, (content, message) in cases.items():
        path = tmp_path / f"{name}.json"
        path.write_text(content)
        with pytest.raises(ConfigError, match=message):
            load_mapping(path)


def test_probe14_answer_with_a_bad_mapping_exits_5_before_grading(runner: CliRunner, tmp_path: Path) -> None:
    path = tmp_path / "map.json"
    path.write_text('{"human_max": 5, "points": [[2, 0.2], [9, 6.1]]}')
    result = runner.invoke(app, ["answer", "-q", "cicd-3", "--json", "--calibration", str(path)], input="Canary.")
    assert result.exit_code == 5 and result.stdout == "" and "not a calibration mapping" in result.stderr


def test_a_fitted_mapping_passes_its_own_validation() -> None:
    points = fit_isotonic([0, 0, 3, 5, 10, 10], [0.0, 0.2, 0.9, 0.5, 1.0, 0.8])
    assert CalibrationMapping(human_max=5, points=points).points == points


@pytest.mark.parametrize(
    ("content", "message"),
    [
        pytest.param(None, "not found", id="missing"),
        pytest.param("{", "not a calibration mapping", id="broken-json"),
        pytest.param('{"kind": "isotonic", "human_max": 5, "points": []}', "points", id="no-points"),
    ],
)
def test_unusable_mapping_is_a_config_error(tmp_path: Path, content: str | None, message: str) -> None:
    path = tmp_path / "map.json"
    if content is not None:
        path.write_text(content)
    with pytest.raises(ConfigError, match=message):
        load_mapping(path)


# --- reading ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "message"),
    [
        pytest.param("{not json", ":2: invalid JSON", id="bad-json"),
        pytest.param("[1]", ":2: expected a JSON object", id="not-object"),
        pytest.param('{"question": "q", "reference": "r", "score": 1, "max_score": 5}', "'answer'", id="no-answer"),
        pytest.param('{"question": "q", "reference": "r", "answer": "a", "score": 6, "max_score": 5}',
                     "score <= max_score", id="score-too-high"),
        pytest.param('{"question": "q", "reference": "r", "answer": "a", "score": "x", "max_score": 5}',
                     "'score' must be a number", id="score-not-number"),
        pytest.param('{"answer": "a", "score": 1, "max_score": 5}', "question_id", id="no-question"),
        pytest.param('{"question_id": "nope-9", "answer": "a", "score": 1, "max_score": 5}',
                     "no question 'nope-9'", id="unknown-bank-id"),
        pytest.param('{"question": "q", "reference": "r", "answer": "\\ud800", "score": 1, "max_score": 5}',
                     r":2: a string holds a lone surrogate \(\\ud800\)", id="probe7-lone-surrogate"),
        pytest.param("[" * 100_000, ":2: invalid JSON: nested more than 64 levels deep", id="probe8-deep-nesting"),
        pytest.param('{"answer": "caf\udce9", "score": 1, "max_score": 5}', r":2: not UTF-8 text \(byte 0xe9\)",
                     id="not-utf8"),
    ],
)
def test_bad_records_name_their_line(tmp_path: Path, line: str, message: str) -> None:
    from grader.bank.loader import load_bank

    good = json.dumps({"question": "q", "reference": "r", "answer": "a", "score": 1, "max_score": 5})
    path = tmp_path / "bad.jsonl"
    path.write_bytes((good + "\n" + line + "\n").encode("utf-8", "surrogateescape"))
    with pytest.raises(LabelledDataError, match=message):
        read_labelled(path, lambda: load_bank(REPO))


def test_records_group_by_qid_and_blank_lines_are_skipped(tmp_path: Path) -> None:
    path = small_file(tmp_path)
    path.write_text(path.read_text() + "\n\n")
    records = read_labelled(path)
    assert len(records) == len(ANSWERS) and {r.group for r in records} == {"1.1"}
    assert records[0].question.reference == REFERENCE and records[0].question.id == "1-1"


# --- the command ------------------------------------------------------------------------------------------


def test_calibrate_json_has_the_figures_as_keys(runner: CliRunner, tmp_path: Path) -> None:
    result = runner.invoke(app, ["calibrate", str(small_file(tmp_path)), "--json", "--top", "2"])
    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout)
    for key in ("pearson", "spearman", "qwk", "mae", "rmse"):
        assert isinstance(data[key], float)
    assert data["n"] == len(ANSWERS) and data["pearson"] > 0.8  # the ordering is clear in this toy set
    assert [q["question"] for q in data["per_question"]] == ["1.1"]
    assert len(data["disagreements"]) == 2


def test_fit_then_apply(runner: CliRunner, tmp_path: Path) -> None:
    labelled, mapping = small_file(tmp_path), tmp_path / "map.json"
    raw = json.loads(runner.invoke(app, ["calibrate", str(labelled), "--json"]).stdout)
    fitted = runner.invoke(app, ["calibrate", str(labelled), "--json", "--fit", str(mapping)])
    assert fitted.exit_code == 0, fitted.stderr
    assert json.loads(mapping.read_text())["human_max"] == 5
    applied = runner.invoke(app, ["calibrate", str(labelled), "--json", "--calibration", str(mapping)])
    data = json.loads(applied.stdout)
    assert data["calibrated"] is True and data["mae"] < raw["mae"]
    assert data["mae"] == json.loads(fitted.stdout)["fitted_overall"]["mae"]


def test_answer_applies_a_calibration(runner: CliRunner, tmp_path: Path) -> None:
    mapping = tmp_path / "map.json"
    save_mapping(CalibrationMapping(human_max=5, points=[(0, 0.0), (10, 1.0)]), mapping)
    answer = tmp_path / "a.md"
    answer.write_text("Blue-green: two identical environments, switch traffic at the load balancer.")
    result = runner.invoke(
        app, ["answer", "-q", "cicd-3", "-f", str(answer), "--json", "--no-save", "--calibration", str(mapping)]
    )
    assert result.exit_code == 0, result.stderr
    grade = json.loads(result.stdout)
    assert grade["calibrated_score"] == pytest.approx(grade["score"] / 2, abs=0.01) and grade["calibrated_max"] == 5


def test_bank_questions_are_graded_with_their_rubrics(runner: CliRunner, tmp_path: Path) -> None:
    rows = [
        {"question_id": "cicd-3", "answer": "We switch traffic between two identical environments at the load "
         "balancer and roll back by switching back; canaries get 5% of traffic first.", "score": 9, "max_score": 10},
        {"question_id": "cicd-3", "answer": "I restart the servers.", "score": 1, "max_score": 10},
    ]
    result = runner.invoke(app, ["calibrate", str(write_labelled(tmp_path / "bank.jsonl", rows)), "--json"])
    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["per_question"][0]["question"] == "cicd-3" and data["pearson"] == 1.0


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        pytest.param(["--fit", "f.json", "--calibration", "c.json"], 2, "exclude each other", id="fit-and-apply"),
        pytest.param(["--calibration", "missing.json"], 5, "calibration file not found", id="missing-mapping"),
    ],
)
def test_calibrate_option_errors(runner: CliRunner, tmp_path: Path, args: list[str], code: int, message: str) -> None:
    result = runner.invoke(app, ["calibrate", str(small_file(tmp_path)), *[str(tmp_path / a) if a.endswith(".json")
                                                                          else a for a in args]])
    assert result.exit_code == code and message in result.stderr and "Traceback" not in result.stderr


def test_bad_labelled_file_exits_3_with_one_line(runner: CliRunner, tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text('{"answer": 1}\n')
    result = runner.invoke(app, ["calibrate", str(path)])
    assert result.exit_code == 3 and result.stderr.count("\n") == 1 and "bad.jsonl:1" in result.stderr


def test_calibrates_on_real_human_scores(runner: CliRunner) -> None:
    """174 real answers with human scores (one question of each Mohler assignment, tests/data): the reference
    grader agrees with the humans (Pearson measured 0.74 on this sample)."""
    result = runner.invoke(app, ["calibrate", str(ASAG_SAMPLE), "--json", "--top", "3"])
    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["n"] == 174 and len(data["per_question"]) == 6
    assert data["pearson"] >= 0.6 and data["spearman"] >= 0.6


@pytest.mark.skipif(not ASAG.is_file(), reason=f"the full ASAG development set is not in the repository ({ASAG_ENV})")
def test_reads_the_asag_file_as_is(runner: CliRunner) -> None:
    """The full development set (1,074 answers, not in the repository; GRADER_ASAG_DEV names it) is read unchanged."""
    result = runner.invoke(app, ["calibrate", str(ASAG), "--json", "--top", "3"])
    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["n"] == 1074 and len(data["per_question"]) == 37
    assert data["pearson"] >= 0.6  # the keyword path, defaults chosen by cross-validation (benchmarks/)


def test_fit_never_overwrites_the_labelled_file_or_a_link(runner: CliRunner, tmp_path: Path) -> None:
    path = small_file(tmp_path)
    before = path.read_bytes()
    (tmp_path / "link.json").symlink_to(tmp_path / "elsewhere.json")
    for target in (path, tmp_path / "link.json"):
        result = runner.invoke(app, ["calibrate", str(path), "--fit", str(target)])
        assert result.exit_code == 2 and "--fit" in result.stderr
    assert path.read_bytes() == before and not (tmp_path / "elsewhere.json").exists()
