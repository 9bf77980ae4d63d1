"""Text analysis shared by the graders: an answer as a Document of tokens with offsets, stems and sentences (prose
sentences, table rows, code lines), and which of them are bare lists of terms. Words themselves are read by
`grader.keyword.lexicon`."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from itertools import islice

from grader.keyword.lexicon import ASCII_WORD, FUNCTION_WORDS, QUOTES, SINGLE_STEM, WORD, expand

# A sentence ends at . ! ? followed by white space, at a blank line, or at a line break before a list item or
# heading. A single line break inside a paragraph (hard-wrapped text) does not end a sentence.
# Every alternative starts at white space: the leading look-ahead lets the scan skip other characters quickly.
_SENTENCE_END = re.compile(
    r"(?=\s)(?:(?<=[.!?:])[ \t]*\n+"
    r"|(?<=[.!?])(?<!e\.g\.)(?<!i\.e\.)(?<!\bvs\.)(?<!\bcf\.)\s+"  # "e.g." and friends do not end a sentence
    r"|\n\s*\n\s*|\n(?=\s*(?:[-*+>•]|\d+[.)]|#+)\s))"
)
_ITEM_SEP = re.compile(r"[,;|]|\s/\s|\s-\s")
_ITEM_CHARS = re.compile(r"[,;|/-]")  # every _ITEM_SEP holds one
_BULLET = re.compile(r"^\s*(?:[-*+>•]|\d+[.)]|#+)\s*")


PROSE, TABLE, CODE = "prose", "table", "code"  # kinds of sentence: see `analyse`
_HEADER = "header"  # a table's header row (a TABLE sentence, always list-like)


@dataclass(slots=True)
class Sentence:
    start: int
    end: int
    first_token: int
    last_token: int  # exclusive
    list_like: bool = False  # a bare list of terms (or code): keywords there show a term, not an explanation
    kind: str = PROSE


@dataclass(slots=True)
class Document:
    """An analysed answer: `stems[i]` is token i's stem, `words[i]` its word, `sentence_of[i]` its sentence."""

    text: str
    stems: list[str] = field(default_factory=list)
    words: list[str] = field(default_factory=list)
    sentence_of: list[int] = field(default_factory=list)
    sentences: list[Sentence] = field(default_factory=list)
    _spans: list[tuple[int, int]] | None = None
    _sentence_spans: dict[int, list[tuple[int, int]]] | None = None

    @property
    def word_count(self) -> int:
        return len(self.words)

    @property
    def spans(self) -> list[tuple[int, int]]:
        """(start, end) of each token in `text`; computed on first use (only long evidence needs it)."""
        if self._spans is None:
            normalised = self.text.translate(QUOTES)
            spans: list[tuple[int, int]] = []
            for sentence in self.sentences:
                spans += _word_spans(normalised, sentence)
            self._spans = spans
        return self._spans

    def sentence_spans(self, index: int) -> list[tuple[int, int]]:
        """`spans[first_token:last_token]` of sentence `index`, for negation and figures, which look inside one
        sentence. In ASCII text (once quotes are straightened) `analyse` and `spans` see the same words, so
        the sentence's own words give its spans without those of the whole answer."""
        found = self._sentence_spans.get(index) if self._sentence_spans is not None else None
        if found is not None:
            return found
        sentence = self.sentences[index]
        normalised = self.text if self.text.isascii() or self._spans is not None else self.text.translate(QUOTES)
        if self._spans is None and normalised.isascii():
            found = _word_spans(normalised, sentence)
            if len(found) != sentence.last_token - sentence.first_token:  # cannot happen; the whole answer's then
                found = self.spans[sentence.first_token : sentence.last_token]
        else:
            found = self.spans[sentence.first_token : sentence.last_token]
        if self._sentence_spans is None:
            self._sentence_spans = {}
        self._sentence_spans[index] = found
        return found

    def sentence_text(self, index: int, tokens: tuple[int, int] | None = None, limit: int = 240) -> str:
        """The sentence verbatim (bullet marker dropped), cut to a window around `tokens` when long."""
        sentence = self.sentences[index]
        start, end = sentence.start, sentence.end
        bullet = _BULLET.match(self.text, start, end)
        if bullet and bullet.end() < end:
            start = bullet.end()
        if end - start > limit and tokens is not None:
            first, last = self._window(tokens, sentence)
            middle = (first + last) // 2
            start = max(start, middle - limit // 2)
            end = min(end, start + limit)
            start = self._word_boundary(start, forward=True)
            end = self._word_boundary(end, forward=False)
        return self.text[start:end].strip()

    def _window(self, tokens: tuple[int, int], sentence: Sentence) -> tuple[int, int]:
        """(`spans[tokens[0]]` start, `spans[tokens[1]]` end); for tokens of `sentence`, found in that sentence
        alone (lower-casing keeps every character a word character or not, so it holds the same tokens)."""
        first_token, last_token = tokens
        if self._spans is not None or not sentence.first_token <= first_token <= last_token < sentence.last_token:
            return self.spans[first_token][0], self.spans[last_token][1]
        offset, index, first = sentence.start, sentence.first_token, -1
        piece = self.text[offset : sentence.end].translate(QUOTES)
        if len(WORD.findall(piece)) == sentence.last_token - sentence.first_token:  # a token a word: jump to them
            words = WORD.finditer(piece)
            start = next(islice(words, first_token - sentence.first_token, None))
            end = next(islice(words, last_token - first_token - 1, None)) if last_token > first_token else start
            return start.start() + offset, end.end() + offset
        for match in WORD.finditer(piece):
            index += len(expand(match.group().lower()))
            if first < 0 and index > first_token:
                first = match.start() + offset
            if index > last_token:
                return first, match.end() + offset
        return self.spans[first_token][0], self.spans[last_token][1]

    def _word_boundary(self, offset: int, forward: bool) -> int:
        text = self.text
        if forward:
            while 0 < offset < len(text) and not text[offset - 1].isspace():
                offset += 1
        else:
            while 0 < offset < len(text) and not text[offset].isspace():
                offset -= 1
        return offset


def _word_spans(normalised: str, sentence: Sentence) -> list[tuple[int, int]]:
    """(start, end) of each token of `sentence` in `normalised` (the text, quotes straightened)."""
    spans: list[tuple[int, int]] = []
    for match in WORD.finditer(normalised, sentence.start, sentence.end):
        spans.extend([match.span()] * len(expand(match.group().lower())))
    return spans


def _is_list_like(words: list[str], text: str, start: int, end: int) -> bool:
    """A bare list of terms (`text[start:end]`, its `words`): very short, several short comma-separated items,
    or no function words."""
    count = len(words)
    if count <= 2:
        return True
    # Each separator holds one of these characters: with too few of them, there are too few items.
    separators = len(_ITEM_CHARS.findall(text, start, end))
    if separators >= 2 and 3 * (separators + 1) > count:
        items = [item for item in _ITEM_SEP.split(text[start:end]) if item.strip()]
        if len(items) >= 3 and count / len(items) < 3:
            return True
    return count >= 5 and FUNCTION_WORDS.isdisjoint(words)


def _is_explanatory_row(words: list[str], text: str, start: int, end: int) -> bool:
    """A table row that says something: at least two cells with content and four words in all (`| State | S3
    bucket with locking | managed by AWS |`), not a header or a row of single terms (`| Tools | Terraform |`)."""
    cells = [cell for cell in text[start:end].split("|") if cell.strip()]
    return len(cells) >= 2 and (len(words) >= 4 or not FUNCTION_WORDS.isdisjoint(words))


def analyse(text: str) -> Document:
    """Tokenise, stem and split `text` into sentences (offsets into the original string are kept).

    The last few texts are remembered (the LLM path grades an answer by keywords after cutting it into passages
    at the same sentences: `sentence_spans`); callers only read a Document.

    Structure is read as people write it: each row of a table (`a | b | c` lines) and each line of a fenced code
    block is a sentence of its own. A table row with content in its cells is an explanation; a header or a row of
    single terms, like any bare list of terms, is list-like; code is list-like (a term in code shows the term,
    not an explanation of it).
    """
    return _analyse(text)


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) of each sentence of `text` with a word in it, as `analyse` splits them, without stemming a word
    (what cutting an answer into passages needs)."""
    lowered, segments = _split(text)
    has_word = (ASCII_WORD if lowered.isascii() else WORD).search
    return [(start, end) for start, end, _ in segments if has_word(lowered, start, end)]


@lru_cache(maxsize=8)
def _split(text: str) -> tuple[str, list[tuple[int, int, str]]]:
    """`text` lower-cased with its offsets kept, and its sentences (see `_segments`)."""
    lowered = _lower_in_place(text if text.isascii() else text.translate(QUOTES))  # the quotes are not ASCII
    return lowered, _segments(lowered)


@lru_cache(maxsize=8)
def _analyse(text: str) -> Document:
    lowered, segments = _split(text)
    stems: list[str] = []
    words: list[str] = []
    sentence_of: list[int] = []
    sentences: list[Sentence] = []
    single_stem = SINGLE_STEM.__getitem__
    find_words = (ASCII_WORD if lowered.isascii() else WORD).findall
    for seg_start, seg_end, kind in segments:
        seg_words = find_words(lowered, seg_start, seg_end)
        if not seg_words:
            continue
        first = len(stems)
        try:  # the common case: every word already seen, each with one stem
            stems += map(single_stem, seg_words)
            words += seg_words
        except KeyError:  # a new word, or an abbreviation of several words
            del stems[first:]
            for word in seg_words:
                parts = expand(word)
                stems += parts
                if len(parts) == 1:
                    words.append(word)
                else:
                    words += [word] * len(parts)
        sentence_of += [len(sentences)] * (len(stems) - first)
        if kind is PROSE:
            list_like = _is_list_like(seg_words, lowered, seg_start, seg_end)
        elif kind is TABLE:
            list_like = not _is_explanatory_row(seg_words, lowered, seg_start, seg_end)
        elif kind is _HEADER:
            kind, list_like = TABLE, True
        else:
            list_like = True
        sentences.append(Sentence(seg_start, seg_end, first, len(stems), list_like, kind))
    return Document(text, stems, words, sentence_of, sentences)


def _lower_in_place(text: str) -> str:
    """Lower-case without changing the length, so offsets into it are offsets into the original."""
    lowered = text.lower()
    if len(lowered) == len(text):
        return lowered
    return "".join(c if len(low := c.lower()) != 1 else low for c in text)


_FENCE = re.compile(r"^[ \t]*(```|~~~)")
_TABLE_RULE = re.compile(r"^[\s|:+-]*$")  # `|---|:--:|`, the line under a table's header


def _segments(text: str) -> list[tuple[int, int, str]]:
    """(start, end, kind) of each sentence: prose split by `_split_sentences`; table rows and code lines one a
    sentence (see `analyse`). Text with no table and no fence is prose throughout (the common case, fast)."""
    if "|" not in text and "```" not in text and "~~~" not in text:
        return [(start, end, PROSE) for start, end in _split_sentences(text, 0, len(text))]
    segments: list[tuple[int, int, str]] = []
    lines = _lines(text)
    table = _table_lines(text, lines)
    prose_start: int | None = None
    fence: str | None = None
    for number, (start, end) in enumerate(lines):
        line = text[start:end]
        opening = _FENCE.match(line)
        kind = None
        if fence is not None:
            kind = CODE
            if opening and opening.group(1) == fence:
                fence = None
        elif opening:
            fence, kind = opening.group(1), CODE
        elif number in table:
            following = lines[number + 1] if number + 1 < len(lines) else None
            rule = text[following[0] : following[1]] if following is not None else ""
            is_header = "|" in rule and bool(_TABLE_RULE.match(rule))
            kind = _HEADER if is_header else TABLE
        if kind is None:
            if prose_start is None:
                prose_start = start
            continue
        if prose_start is not None:
            segments += [(s, e, PROSE) for s, e in _split_sentences(text, prose_start, start)]
            prose_start = None
        if not _TABLE_RULE.match(line):
            segments.append((start, end, kind))
    if prose_start is not None:
        segments += [(s, e, PROSE) for s, e in _split_sentences(text, prose_start, len(text))]
    return segments


def _lines(text: str) -> list[tuple[int, int]]:
    lines, start = [], 0
    while start <= len(text):
        end = text.find("\n", start)
        if end < 0:
            end = len(text)
        lines.append((start, end))
        start = end + 1
    return lines


def _table_lines(text: str, lines: list[tuple[int, int]]) -> set[int]:
    """Lines of a table: lines with a `|` between cells, in a run of two or more such lines (a lone line counts
    when it starts with `|`)."""
    piped = [text.find("|", start, end) >= 0 for start, end in lines]
    table: set[int] = set()
    for number, (start, end) in enumerate(lines):
        if not piped[number]:
            continue
        neighbour = (number > 0 and piped[number - 1]) or (number + 1 < len(lines) and piped[number + 1])
        if neighbour or text[start:end].lstrip().startswith("|"):
            table.add(number)
    return table


def _split_sentences(text: str, start: int, stop: int) -> list[tuple[int, int]]:
    spans: list[tuple[int, int]] = []
    for match in _SENTENCE_END.finditer(text, start, stop):
        if match.start() > start:
            spans.append((start, match.start()))
        start = match.end()
    if start < stop:
        spans.append((start, stop))
    return spans
