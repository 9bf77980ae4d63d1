"""Calibration: how closely the grader agrees with human grades, and a mapping onto the human scale.

- `labelled`: reading a labelled JSONL file (answers with human scores);
- `agreement`: the figures (Pearson, Spearman, QWK, MAE, RMSE);
- `mapping`: the monotone mapping fitted to human scores (`--fit`, `--calibration`);
- `report`: grading a labelled file and reporting agreement (`grade calibrate`).
"""

from grader.calibration.agreement import Agreement, agreement, pearson, quadratic_weighted_kappa, scale_step
from grader.calibration.labelled import GradedRecord, LabelledDataError, LabelledRecord, read_labelled
from grader.calibration.mapping import CalibrationMapping, fit_isotonic, fit_mapping, load_mapping, save_mapping
from grader.calibration.report import CalibrationReport, build_report, calibrate, grade_records, labelled_stats

__all__ = [
    "Agreement",
    "CalibrationMapping",
    "CalibrationReport",
    "GradedRecord",
    "LabelledDataError",
    "LabelledRecord",
    "agreement",
    "build_report",
    "calibrate",
    "fit_isotonic",
    "fit_mapping",
    "grade_records",
    "labelled_stats",
    "load_mapping",
    "pearson",
    "quadratic_weighted_kappa",
    "read_labelled",
    "save_mapping",
    "scale_step",
]
