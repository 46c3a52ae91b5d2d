"""Reading an answer out of a model's raw text."""

from __future__ import annotations

import re

# a number as written in a reply: 7, -3, 1,000, 2.5, .5, 1e3, 2.5e-2
_NUM = r"[-+]?(?:\d+(?:[.,]\d+)*|\.\d+)(?:[eE][-+]?\d+)?"
_NUMBER = re.compile(_NUM)
_LEAD = re.compile(rf"^\s*(?:the answer is|answer:)?\s*({_NUM})", re.I)
_SENTENCE_END = re.compile(r"(?<=[^\d])[.!?](?:\s|$)|\n")


_AFTER_EQUALS = re.compile(rf"=\s*({_NUM})")
_AFTER_WORD = re.compile(rf"\b(?:is|equals|makes|gives|answer:?)\s+({_NUM})", re.I)
# where a stated answer starts: after "=" / "is" / "equals" / "answer:"
_STATED = re.compile(r"=|\b(?:is|equals|makes|gives|answer:?)(?=\s)", re.I)


def parse_number(raw: str) -> str:
    """The number a reply states.

    In order: the number after `=`, after "is"/"equals", a leading number, else the last number
    of the first sentence. "3 + 4 = 7" gives 7; "The answer is 7." gives 7; "7" gives 7. When the
    first sentence has no digits, a number in words where an answer is stated: "four" and
    "It is four." give 4 ("15, since the remainder is zero" still gives 15).
    """
    first = _SENTENCE_END.split(raw.strip(), maxsplit=1)[0]
    for pattern in (_AFTER_EQUALS, _AFTER_WORD):
        found = pattern.search(first)
        if found:
            return _canonical_number(found.group(1))
    if not _NUMBER.search(first):  # words only where the sentence states no digits
        spelled = _spelled_number(first)
        if spelled:
            return spelled
    found = _LEAD.search(first)
    if found:
        return _canonical_number(found.group(1))
    numbers = _NUMBER.findall(first) or _NUMBER.findall(raw)
    return _canonical_number(numbers[-1]) if numbers else ""


def _spelled_number(sentence: str) -> str:
    """A number written in words: the whole sentence ("Four."), or what follows "is" ("The
    answer is twenty-one"); words elsewhere ("no one knows") are not read as numbers."""
    from accord.consensus.normalise import canonical_number, number_value

    for candidate in (sentence, *(sentence[m.end() :] for m in _STATED.finditer(sentence))):
        value = number_value(candidate)
        if value is not None:
            return canonical_number(value)
    return ""


def _canonical_number(text: str) -> str:
    text = text.replace(",", "")
    try:
        value = float(text)
    except ValueError:
        return text
    return str(int(value)) if value.is_integer() else repr(value)


def parse_text(raw: str) -> str:
    """The first non-empty line of a reply, stripped."""
    for line in raw.strip().splitlines():
        if line.strip():
            return line.strip()
    return ""


def parse_free(raw: str) -> str:
    """The whole reply, stripped (a long-form answer: a report, a CrewAI task's output)."""
    return raw.strip()


def _words(text: str) -> str:
    """`text` lower-cased, punctuation dropped, words separated by single spaces."""
    return " ".join(re.sub(r"[^\w\s-]", " ", text.lower()).split())


def named_choice(text: str, choices: tuple[str, ...]) -> str:
    """The one option `text` names as a whole word or phrase ('' for none or several)."""
    folded = f" {_words(text)} "
    named = [c for c in choices if _words(c) and f" {_words(c)} " in folded]
    return named[0] if len(named) == 1 else ""


def parse_choice(raw: str, choices: tuple[str, ...]) -> str:
    """The option a free-text reply names ('' when it names none or several).

    The reply itself when it is an option; else the one option it names as a whole word or
    phrase (option "a" is not found inside "banana").
    """
    text = raw.strip().lower()
    exact = [c for c in choices if c.strip().lower() == text]
    if exact:
        return exact[0]
    return named_choice(raw, choices)
