"""Fuzzing the crew loader and the answer parser: random input raises ConfigError or nothing."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from accord.consensus.records import Task
from accord.crews.loader import load_crew
from accord.errors import ConfigError
from accord.roles.agent import read_answer
from accord.roles.parse import parse_choice, parse_number, parse_text

FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
KEYS = [
    "name",
    "roles",
    "tasks",
    "policy",
    "budget",
    "models",
    "sources",
    "seed",
    "goal",
    "question",
    "id",
    "depends_on",
    "choices",
    "threshold",
    "k",
    "kind",
    "backend",
    "tokens_per_run",
    "replicas",
    "answer_type",
    "expected",
    "voters",
    "path",
    "stopping",
]
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**20), 10**20),
    st.floats(allow_nan=True),
    st.text(max_size=20),
    st.sampled_from(["solver", "a", "vote", "adaptive", "-1", "1.5", "settled"]),
)
VALUES: st.SearchStrategy[Any] = st.recursive(
    SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(st.sampled_from(KEYS) | st.text(max_size=8), inner, max_size=5),
    ),
    max_leaves=25,
)


def _load(data: bytes) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "crew.yaml"
        path.write_bytes(data)
        try:
            load_crew(path)
        except ConfigError as exc:
            assert exc.path == str(path)
            assert "\n" not in exc.render()


@FUZZ
@given(st.binary(max_size=400))
def test_random_bytes_never_crash_the_loader(data: bytes) -> None:
    _load(data)


@FUZZ
@given(
    st.text(
        alphabet=st.sampled_from(list("ab:-[]{}&*!|>'\"#%@`\t\n ,?<=.0123456789")), max_size=200
    )
)
def test_random_yaml_punctuation_never_crashes_the_loader(text: str) -> None:
    _load(text.encode())


@FUZZ
@given(st.dictionaries(st.sampled_from(KEYS), VALUES, max_size=8))
def test_random_crew_shaped_documents_never_crash_the_loader(data: dict[str, Any]) -> None:
    _load(yaml.safe_dump(data, allow_unicode=True).encode())


@FUZZ
@given(st.text(max_size=300), st.lists(st.text(max_size=12), max_size=5))
def test_the_answer_parser_always_returns_text(raw: str, choices: list[str]) -> None:
    assert isinstance(parse_number(raw), str)
    assert isinstance(parse_text(raw), str)
    picked = parse_choice(raw, tuple(choices))
    assert picked == "" or picked in choices
    for kind in ("text", "number", "choice"):
        assert isinstance(read_answer(raw, Task("t", "q", kind, tuple(choices))), str)
