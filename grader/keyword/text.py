"""Text analysis shared by the graders: tokens with offsets, stems, sentences, and list-like fragments."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from itertools import islice

import Stemmer  # PyStemmer: the Snowball stemmers compiled from C

_STEMMER = Stemmer.Stemmer("english")
_WORD = re.compile(r"[^\W_]+(?:'[^\W_]+)?|%")
_ASCII_WORD = re.compile(r"[a-z0-9]+(?:'[a-z0-9]+)?|%")  # _WORD on lower-case ASCII text, 40% faster
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
_QUOTES = str.maketrans({"\u2019": "'", "\u2018": "'", "\u02bc": "'"})

FUNCTION_WORDS = frozenset(
    """a about above after again against all also am an and any are as at be because been before being
    below between both but by can could did do does doing down during each few for from further had has
    have having he her here hers him his how i if in into is it its itself just me more most my no nor
    not of off on once only or other our ours out over own same she should so some such than that the
    their theirs them then there these they this those through to too under until up very was we were
    what when where which while who whom why will with would you your yours us let get got make makes
    use used using way first then next also i'm i've we're we've it's that's don't doesn't didn't won't
    can't isn't aren't wasn't weren't within including across via per onto upon among inside outside since
    though although unless whether must may might shall etc e.g i.e like such both either neither whose
    it'll we'll they're they've""".split()
)

NEGATIONS = frozenset(
    """not no never without avoid avoiding instead rather nor don't doesn't didn't won't can't isn't aren't
    wasn't weren't shouldn't mustn't cannot""".split()
)

# Phrases that disown a claim anywhere in its sentence ("a common myth is that ...", "..., which is wrong").
DISCLAIMER = re.compile(
    r"\b(myths?|misconceptions?|fallac(y|ies)|untrue|not true|incorrect(ly)?|mistaken(ly)?|misguided"
    r"|(which|that|this)(\s+is|'s|\s+was)\s+(just\s+)?wrong|it'?s\s+wrong\s+to|wrong\s+(idea|assumption))\b",
    re.IGNORECASE,
)


# Abbreviations read as their expansion, on both the answer and the rubric side.
ABBREVIATIONS: dict[str, str] = {
    "k8s": "kubernetes",
    "k8": "kubernetes",
    "db": "database",
    "dbs": "databases",
    "lb": "load balancer",
    "lbs": "load balancers",
    "env": "environment",
    "envs": "environments",
    "prod": "production",
    "config": "configuration",
    "configs": "configurations",
    "repo": "repository",
    "repos": "repositories",
    "infra": "infrastructure",
    "ha": "high availability",
    "mtls": "mutual tls",
    "iac": "infrastructure as code",
    "cfn": "cloudformation",
    "gha": "github actions",
    "svc": "service",
    "rca": "root cause analysis",
    "perf": "performance",
    "vuln": "vulnerability",
    "vulns": "vulnerabilities",
    "vm": "virtual machine",
    "vms": "virtual machines",
    "az": "availability zone",
    "azs": "availability zones",
    "pr": "pull request",
    "prs": "pull requests",
    "mr": "merge request",
    "mrs": "merge requests",
    "deps": "dependencies",
    "postmortem": "post mortem",
    "postmortems": "post mortems",
    "%": "percent",
}


# British spellings read as American ones (applied to both sides, so a rare false rewrite is harmless).
_BRITISH = (
    (re.compile(r"(?<=\w{3})is(e|es|ed|ing|ation|ations|er|ers)$"), r"iz\1"),
    (re.compile(r"(?<=\w{3})ys(e|es|ed|ing|er|ers)$"), r"yz\1"),
    (re.compile(r"(?<=\w\w[lvnbmpi])our(s|ed|ing|able|ite|ites)?$"), r"or\1"),
    (re.compile(r"(?<=\w{3})tre(s)?$"), r"ter\1"),
    (re.compile(r"(?<=\w{3})ogue(s)?$"), r"og\1"),
)
_BRITISH_WORDS = {"defence": "defense", "licence": "license", "offence": "offense", "grey": "gray"}


# Every ending one of _BRITISH's patterns can match: a word with none of them is left alone without a regex.
_BRITISH_ENDINGS = tuple(
    {f"is{end}" for end in ("e", "es", "ed", "ing", "ation", "ations", "er", "ers")}
    | {f"ys{end}" for end in ("e", "es", "ed", "ing", "er", "ers")}
    | {f"our{end}" for end in ("", "s", "ed", "ing", "able", "ite", "ites")}
    | {"tre", "tres", "ogue", "ogues"}
)


def _americanise(word: str) -> str:
    word = _BRITISH_WORDS.get(word, word)
    if len(word) >= 6 and word.endswith(_BRITISH_ENDINGS):
        for pattern, replacement in _BRITISH:
            word = pattern.sub(replacement, word)
    return word


@lru_cache(maxsize=1 << 16)
def stem(word: str) -> str:
    """The Snowball stem of one lower-case word (apostrophes dropped, British spelling made American).

    Short plurals that Snowball keeps (`SLOs`, `CVEs`) lose their `s`, so acronyms match their plurals.
    """
    base, _, suffix = word.partition("'")
    if suffix:  # contractions and possessives: "i'd" -> "i", "team's" -> "team", "don't" -> "dont"
        word = base + "t" if suffix == "t" else base
    word = _americanise(word)
    stemmed = _STEMMER.stemWord(word)
    if stemmed == word and 4 <= len(word) <= 6 and word.endswith("s") and not word.endswith(("ss", "us")):
        return word[:-1]
    return stemmed


# Memos of the hot path, plain dicts (cheaper to consult than an lru_cache), emptied when they grow too big:
# word -> its stems (abbreviations expand to several), and word -> its one stem for the common words.
_EXPANSIONS: dict[str, tuple[str, ...]] = {}
_SINGLE_STEM: dict[str, str] = {}
_MEMO_LIMIT = 1 << 16


def _expand(word: str) -> tuple[str, ...]:
    found = _EXPANSIONS.get(word)
    if found is not None:
        return found
    expansion = ABBREVIATIONS.get(word)
    found = (stem(word),) if expansion is None else tuple(stem(part) for part in expansion.split())
    if len(_EXPANSIONS) >= _MEMO_LIMIT:
        _EXPANSIONS.clear()
        _SINGLE_STEM.clear()
    _EXPANSIONS[word] = found
    if len(found) == 1:
        _SINGLE_STEM[word] = found[0]
    return found


def phrase_stems(phrase: str) -> tuple[str, ...]:
    """The stems a keyword phrase is matched by, abbreviations expanded."""
    out: list[str] = []
    for match in _WORD.finditer(phrase.translate(_QUOTES).lower()):
        out.extend(_expand(match.group()))
    return tuple(out)


def phrase_words(phrase: str) -> list[str]:
    """The lower-case words of a phrase, as the tokeniser sees them."""
    return [m.group() for m in _WORD.finditer(phrase.translate(_QUOTES).lower())]


def phrase_links(phrase: str) -> list[bool]:
    """For each stem of `phrase_stems(phrase)` after the first: is it tied to the previous one?

    Words joined by a hyphen or slash (`on-call`, `blue/green`) and the parts of an expanded abbreviation are
    tied: nothing may come between them. Words separated by spaces are loose.
    """
    return read_phrase(phrase)[2]


def read_phrase(phrase: str) -> tuple[tuple[str, ...], list[str], list[bool], list[tuple[str, ...]]]:
    """`phrase_stems`, `phrase_words`, `phrase_links` of a phrase, and the stems of each of its words, in one pass
    (compiling a rubric uses them all)."""
    stems: list[str] = []
    words: list[str] = []
    links: list[bool] = []
    word_stems: list[tuple[str, ...]] = []
    previous_end: int | None = None
    for match in _WORD.finditer(phrase.translate(_QUOTES).lower()):
        word = match.group()
        parts = _expand(word)
        if previous_end is not None:
            separator = phrase[previous_end : match.start()]
            links.append(not separator or bool(separator.strip()))
        if len(parts) > 1:
            links.extend([True] * (len(parts) - 1))
        previous_end = match.end()
        stems += parts
        words.append(word)
        word_stems.append(parts)
    return tuple(stems), words, links, word_stems


def joined_stem(phrase: str) -> str | None:
    """The stem of a two- or three-word phrase written as one word (`roll back` -> `rollback`), else None."""
    words = phrase_words(phrase)
    if not 2 <= len(words) <= 3 or any("'" in word for word in words):
        return None
    return stem("".join(words))


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
    positions: dict[str, list[int]] = field(default_factory=dict)
    _spans: list[tuple[int, int]] | None = None
    _sentence_spans: dict[int, list[tuple[int, int]]] | None = None

    @property
    def word_count(self) -> int:
        return len(self.words)

    @property
    def spans(self) -> list[tuple[int, int]]:
        """(start, end) of each token in `text`; computed on first use (only long evidence needs it)."""
        if self._spans is None:
            normalised = self.text.translate(_QUOTES)
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
        normalised = self.text if self.text.isascii() or self._spans is not None else self.text.translate(_QUOTES)
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
        piece = self.text[offset : sentence.end].translate(_QUOTES)
        if len(_WORD.findall(piece)) == sentence.last_token - sentence.first_token:  # a token a word: jump to them
            words = _WORD.finditer(piece)
            start = next(islice(words, first_token - sentence.first_token, None))
            end = next(islice(words, last_token - first_token - 1, None)) if last_token > first_token else start
            return start.start() + offset, end.end() + offset
        for match in _WORD.finditer(piece):
            index += len(_expand(match.group().lower()))
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
    for match in _WORD.finditer(normalised, sentence.start, sentence.end):
        spans.extend([match.span()] * len(_expand(match.group().lower())))
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

    The last few texts are remembered (the LLM path splits an answer into passages and grades it by keywords, each
    from the same analysis); callers only read a Document.

    Structure is read as people write it: each row of a table (`a | b | c` lines) and each line of a fenced code
    block is a sentence of its own. A table row with content in its cells is an explanation; a header or a row of
    single terms, like any bare list of terms, is list-like; code is list-like (a term in code shows the term,
    not an explanation of it).
    """
    return _analyse(text)


@lru_cache(maxsize=8)
def _analyse(text: str) -> Document:
    lowered = _lower_in_place(text.translate(_QUOTES))
    stems: list[str] = []
    words: list[str] = []
    sentence_of: list[int] = []
    sentences: list[Sentence] = []
    single_stem = _SINGLE_STEM.__getitem__
    find_words = (_ASCII_WORD if lowered.isascii() else _WORD).findall
    for seg_start, seg_end, kind in _segments(lowered):
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
                parts = _expand(word)
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
    positions: dict[str, list[int]] = {}
    known = positions.get
    for index, word_stem in enumerate(stems):
        found = known(word_stem)
        if found is None:
            positions[word_stem] = [index]
        else:
            found.append(index)
    return Document(text, stems, words, sentence_of, sentences, positions)


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
