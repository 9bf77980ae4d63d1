"""The contracts: the bank's schema (questions, rubrics) and the result of grading (`Grade`)."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

Status = Literal["covered", "partial", "missing"]
Method = Literal["keyword", "reference", "llm", "hybrid"]  # which grader produced the grade
Slug = Field(pattern=r"^[a-z0-9][a-z0-9_-]*$", min_length=1, max_length=64)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _no_blank(items: list[str]) -> list[str]:
    for item in items:
        if not item.strip():
            raise ValueError("keywords must not be blank")
    return items


# --- the bank -------------------------------------------------------------------------------


class Question(_Strict):
    """One interview question. `reference` is a reference answer, for banks without hand-written concepts."""

    id: str = Slug
    category: str = Slug
    text: str = Field(min_length=1)
    reference: str | None = None


class QuestionEntry(_Strict):
    id: str = Slug
    text: str = Field(min_length=1)
    reference: str | None = None


class QuestionFile(_Strict):
    """A file of `questions/`: one category and its questions, in order."""

    category: str = Slug
    title: str = Field(min_length=1)
    questions: list[QuestionEntry] = Field(min_length=1)


class Concept(_Strict):
    """Something a good answer says. `keywords` are phrases that show it; each distinct one matched counts once.

    `synonyms` maps a keyword to alternatives that count as that same keyword. A keyword written `a ... b`
    matches when `a` and then `b` occur in the same sentence.
    """

    id: str = Slug
    name: str = Field(min_length=1)
    description: str = Field(min_length=1)
    weight: float = Field(gt=0, le=10)
    keywords: list[str] = Field(min_length=1)
    synonyms: dict[str, list[str]] = Field(default_factory=dict)
    min_hits: int = Field(default=2, ge=1, le=10)
    follow_up: str = Field(min_length=1)
    # Optional: phrases that show a good answer to `follow_up` (its own keywords, synonyms allowed as above), for
    # grading the follow-up on the keyword path; without them they are taken from the follow-up question.
    follow_up_keywords: list[str] = Field(default_factory=list)
    # A result or outcome concept: figures in the answer (a number with a unit, a percentage, a before/after
    # pair such as "45 mins -> 10 mins") count as one more of its keywords.
    figures: bool = False

    _check_keywords = field_validator("keywords")(_no_blank)


class Misconception(_Strict):
    """A wrong idea a candidate may state; matched by its keywords (phrases), never when negated."""

    id: str = Slug
    description: str = Field(min_length=1)
    keywords: list[str] = Field(min_length=1)
    penalty: float = Field(default=1.0, ge=0, le=10)
    correction: str | None = None

    _check_keywords = field_validator("keywords")(_no_blank)


class Rubric(_Strict):
    """How one question is graded. `draft: true` marks a machine-drafted rubric awaiting human review.

    `method` names the offline grader that reads it: a written rubric is graded by its keywords; a rubric derived
    from a reference answer (`grader.keyword.reference.DerivedRubric`) by its key terms.
    """

    method: ClassVar[Literal["keyword", "reference"]] = "keyword"

    question_id: str = Slug
    version: int = Field(default=1, ge=1)
    draft: bool = False
    # The question asks for an experience ("Describe a time when...", "Tell me about an incident..."): an answer
    # should tell what happened, and only its statements of what happened count as about the question.
    story: bool = False
    concepts: list[Concept] = Field(min_length=1)
    misconceptions: list[Misconception] = Field(default_factory=list)
    model_answer: str = Field(min_length=1)


# --- results ----------------------------------------------------------------------------------


class ConceptResult(BaseModel):
    id: str
    name: str
    weight: float
    status: Status
    evidence: str | None = None
    matched: list[str] = Field(default_factory=list)
    reason: str | None = None
    confidence: float | None = None
    claimed: Status | None = None  # what a model said when its evidence did not hold up (`status` is what counts)


class MisconceptionResult(BaseModel):
    id: str
    description: str
    penalty: float
    evidence: str | None = None
    correction: str | None = None


class StudyItem(BaseModel):
    model_config = ConfigDict(frozen=True)  # one per rubric concept, shared by the grades that cite it

    concept_id: str
    name: str
    description: str
    follow_up: str


class Usage(BaseModel):
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0
    cached: bool = False


class Disagreement(BaseModel):
    concept_id: str
    llm_status: Status
    keyword_status: Status
    note: str


class Scale(BaseModel):
    """How the weighted share of concepts covered becomes a 0-10 score (see grader.scoring): an S-shaped curve
    (`midpoint`: the share that scores 5; `steepness`), or a power curve (`exponent`: 10 * share ** exponent)."""

    model_config = ConfigDict(frozen=True)

    shape: Literal["s", "power"]
    midpoint: float = 0.5
    steepness: float = 1.0
    exponent: float = 1.0


class Grade(BaseModel):
    """The result of grading one answer; `score` is always computed from `concepts` and `misconceptions`."""

    question_id: str
    score: float
    max_score: float = 10
    band: str
    method: Method
    concepts: list[ConceptResult]
    misconceptions: list[MisconceptionResult] = Field(default_factory=list)
    flags: list[str] = Field(default_factory=list)
    feedback: str = ""
    fallback_reason: str | None = None
    study_next: list[StudyItem] = Field(default_factory=list)
    rubric_version: int = 1
    model: str | None = None
    usage: Usage | None = None
    confidence: float | None = None
    disagreements: list[Disagreement] = Field(default_factory=list)
    # How the score follows from the verdicts (grader.scoring.compute_score): the scale (None: 10 x the plain
    # share, as grades saved before scales were), and the share of the answer about this question when the grader
    # measured it (the keyword grader does).
    scale: Scale | None = None
    relevance: float | None = None
    # Set only when a calibration mapping (`--calibration FILE`) was applied: `score` mapped onto the human
    # scale the mapping was fitted on (0..calibrated_max). `score` itself stays the computed 0-10 score.
    calibrated_score: float | None = None
    calibrated_max: float | None = None
