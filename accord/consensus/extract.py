"""Reading the final answer out of a reasoning text ("... The answer is 540.").

Pure functions, no I/O: `final_answer(text, kind)` finds the answer a chain-of-thought
completion states, or None when it states none. The answer statement wins over everything
else in the text ("The answer is X", "Answer: X", "Plan: ...", a boxed value; the last one
that holds a value of the kind asked for); a completion without one falls back to its last
sentence that holds such a value. `kind` says what to read:

- `number`: a number as written, without units or currency (`$1,200.50` -> `1200.50`), the
  result of a worked sum (`24 - 9 = 15` -> `15`), a fraction as written (`19/3`);
- `date`: a date as MM/DD/YYYY (`8/3/1997` and `Aug 3, 1997` -> `08/03/1997`);
- `yesno`: `yes` or `no` (also from `true`/`false`, `plausible`/`implausible`);
- `text`: the stated answer phrase, stripped of quotes and a trailing full stop.

A program-style completion (Faithful CoT's NL+SL, whose answer came from running the program)
states no answer and reads as None or a wrong number: use its released answer instead.
"""

from __future__ import annotations

import re
from typing import Literal

AnswerKind = Literal["number", "date", "yesno", "text"]
KINDS: tuple[AnswerKind, ...] = ("number", "date", "yesno", "text")

# "the answer is X", "answer: X", "final answer is: X"; X runs to the end of its sentence
_STATED = re.compile(
    r"(?:the\s+)?(?:final\s+)?answer\s*(?:is|would\s+be|will\s+be|=|:)\s*:?[ \t]*"
    r"(?P<x>.+?)(?=\.(?:\s|$)|\n|$)",
    re.IGNORECASE,
)
_BOXED = re.compile(r"\\boxed\{(?P<x>[^{}]*)\}")
_PLAN = re.compile(r"^\s*plan\s*:\s*(?P<x>.+)", re.IGNORECASE | re.MULTILINE)
# a number as written: sign, currency, thousands separators, decimals, or a fraction (19/3)
_NUMBER = re.compile(r"-?\$?\s?(?:(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?(?:/\d+)?|\.\d+)")
_DATE = re.compile(r"\b(\d{1,2})/(\d{1,2})/(\d{4})\b")
_MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
_NAMED_DATE = re.compile(
    r"\b(" + "|".join(_MONTHS) + r")[a-z]*\.?\s*(\d{1,2})(?:st|nd|rd|th)?,?\s*(\d{4})\b",
    re.IGNORECASE,
)
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+|\n+")
_YESNO = {
    "yes": "yes",
    "no": "no",
    "true": "yes",
    "false": "no",
    "plausible": "yes",
    "implausible": "no",
}
_YESNO_WORD = re.compile(r"\b(yes|no|true|false|plausible|implausible)\b", re.IGNORECASE)


def final_answer(text: str | None, kind: AnswerKind = "text") -> str | None:
    """The final answer `text` states, read as `kind`; None when there is none to read.

    The last stated answer that can be read as `kind` wins; without one, the last sentence
    that holds a value of that kind (`text` needs a statement).
    """
    if kind not in KINDS:
        raise ValueError(f"unknown answer kind {kind!r}; known: {', '.join(KINDS)}")
    if not text or not text.strip():
        return None
    for phrase in reversed(stated_phrases(text)):
        value = read_answer(phrase, kind)
        if value is not None:
            return value
    if kind == "text":
        return None
    for sentence in reversed(_SENTENCE_END.split(text)):
        value = read_answer(sentence, kind)
        if value is not None:
            return value
    return None


def read_answer(phrase: str, kind: AnswerKind) -> str | None:
    """An answer phrase ("$1,200 in all", "3 + 4 = 7 apples", "Jun 3, 2021") read as `kind`.

    A number is the first one after the phrase's last `=` (the result of a worked sum); a
    date is given as MM/DD/YYYY; None when the phrase holds no value of that kind.
    """
    return _READERS[kind](phrase)


def stated_phrases(text: str) -> list[str]:
    """The phrases `text` gives as its answer, in text order ("The answer is X." -> "X").

    A restated question ("Final Answer: How many ...?") is not an answer and is left out.
    """
    found = [
        (m.start(), m.group("x").strip().strip("\"'`*").strip()) for m in _STATED.finditer(text)
    ]
    found += [(m.start(), m.group("x").strip()) for m in _BOXED.finditer(text)]
    found += [(m.start(), m.group("x").strip()) for m in _PLAN.finditer(text)]
    return [phrase for _, phrase in sorted(found) if phrase and not phrase.endswith("?")]


def _number(phrase: str) -> str | None:
    parts = [p for p in phrase.split("=") if _NUMBER.search(p)]
    found = _NUMBER.search(parts[-1]) if parts else None
    if found is None:
        return None
    return found.group(0).replace("$", "").replace(",", "").strip()


def _date(phrase: str) -> str | None:
    found = [(m.start(), f"{int(m[1]):02d}/{int(m[2]):02d}/{m[3]}") for m in _DATE.finditer(phrase)]
    for m in _NAMED_DATE.finditer(phrase):
        month = _MONTHS.index(m[1][:3].lower()) + 1
        found.append((m.start(), f"{month:02d}/{int(m[2]):02d}/{m[3]}"))
    return min(found)[1] if found else None


def _yesno(phrase: str) -> str | None:
    found = _YESNO_WORD.search(phrase)
    return _YESNO[found.group(1).lower()] if found else None


def _text(phrase: str) -> str | None:
    return phrase.strip().rstrip(".").strip() or None


_READERS = {"number": _number, "date": _date, "yesno": _yesno, "text": _text}
