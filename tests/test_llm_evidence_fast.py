"""`evidence.words` folds runs of ASCII by a table: the words and their places must be exactly those of folding
every character on its own (NFKC, the quote-mark table, casefold), which is what the fast path replaced."""

from __future__ import annotations

import random
import re
import unicodedata

import pytest

from grader.llm.evidence import locate_quote, words

_WORD = re.compile(r"\w+")
_UNIFY = str.maketrans({"’": "'", "‘": "'", "“": '"', "”": '"', "–": "-", "—": "-", "`": "'"})


def words_one_by_one(text: str) -> list[tuple[str, int, int]]:
    """The folding every character on its own, as evidence.words did before its fast path."""
    folded: list[str] = []
    index: list[int] = []
    for i, char in enumerate(text):
        piece = unicodedata.normalize("NFKC", char).translate(_UNIFY).casefold()
        folded.append(piece)
        index.extend([i] * len(piece))
    joined = "".join(folded)
    return [(m.group(), index[m.start()], index[m.end() - 1] + 1) for m in _WORD.finditer(joined)]


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("We `deploy` to the IDLE env, then switch.", id="ascii-backtick"),
        pytest.param("We roll back – it’s “instant”; ﬁle ＡＢＣ straße", id="mixed-unicode"),
        pytest.param("ǅemo İstanbul ﬃ Ⅻ ①②", id="folds-that-change-length"),
        pytest.param("cafe\u0301 re\u0301sume\u0301 naïve", id="combining-marks"),
        pytest.param("", id="empty"),
        pytest.param("日本語のテキスト and ASCII", id="cjk"),
    ],
)
def test_words_are_those_of_folding_each_character(text: str) -> None:
    assert words(text) == words_one_by_one(text)


def test_words_match_on_random_mixed_text() -> None:
    rng = random.Random(3)
    alphabet = "abcXYZ 09_-.,'`’“”–é\u0301ßİﬁＡ①日\n"
    for _ in range(300):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 60)))
        assert words(text) == words_one_by_one(text), text


def test_a_quote_is_found_as_the_candidate_wrote_it_in_mixed_text() -> None:
    answer = "We ship with blue–green: it’s “instant” to switch traffic at the ＬＢ."
    assert locate_quote(answer, "it's \"instant\" to switch traffic") == "it’s “instant” to switch traffic"
