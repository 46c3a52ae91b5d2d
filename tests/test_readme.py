"""Every fenced block of the README runs, so the docs cannot rot.

YAML blocks are parsed and validated as the crew (or task) part they show; the Python block is
executed; every shell command is run in a scratch folder the way `HOW` says, and a command
missing from `HOW` fails the test, so a new README line must say how it is checked:

- `run`: as written;
- `scripted`: with `--backend scripted` added, where the README says the embedded model can be
  rehearsed that way; it also runs as written in the `model` test;
- `model`: needs the embedded model (or minutes): run as written in the `model`/`slow` test;
- `make`: the target must exist (`make -n`); make targets are run by CI and by their authors;
- `help`: a server that would not return (`accord ui`): its options are checked with `-h`;
- `tests/...`: needs an outside service (an OTLP receiver): the named test runs one.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import yaml

from accord.crews.spec import CrewSpec, TaskSpec
from tests.conftest import ROOT

README = ROOT / "README.md"
FENCE = re.compile(r"^( *)```(\w*)\n(.*?)^\1```", re.S | re.M)

HOW: dict[str, str] = {
    "make demo": "make",
    "make test": "make",
    "make test-fast": "make",
    "make lint": "make",
    "make bench-overhead": "make",
    "make bench-sandbox": "make",
    "make bench-load": "make",
    "make reliability": "make",
    "make bench-memory": "make",
    "make bench-quick": "make",
    "make bench-consensus": "make",
    "make bench-startup": "make",
    "accord init mycrew": "run",
    "accord validate mycrew/crew.yaml": "run",
    "accord run mycrew/crew.yaml": "scripted",
    "accord show latest": "run",
    "accord sql": "run",
    "accord ledger": "run",
    "accord run configs/scripted.yaml --pool local --out answers --json": "run",
    "accord ui": "help",
    "accord agent run configs/refund.yaml": "run",
    "accord audit": "run",
    "accord run configs/memory_demo.yaml": "model",  # embeddings from the embedded GGUF
    "accord memory": "model",
    "accord sql --db mem.duckdb": "model",  # reads what the memory runs wrote
    "accord run tests/interop/data/latest_ai_development": "scripted",
    "OTEL_EXPORTER_OTLP_ENDPOINT=": "tests/interop/test_otel.py",
    "accord traces": "tests/interop/test_otel.py",
    "accord bench --tasks hyperbaton": "model",
    "accord bench --tasks benchmarks/data/recorded": "model",  # minutes of replay
}


def blocks() -> list[tuple[str, str, int]]:
    """(language, text, line) of every fenced block; unlabelled blocks are shell."""
    text = README.read_text()
    return [
        (m.group(2) or "bash", textwrap.dedent(m.group(3)), text[: m.start()].count("\n") + 1)
        for m in FENCE.finditer(text)
    ]


def commands(text: str) -> list[list[str]]:
    """The shell commands of a block as argument lists (continuations joined, comments cut)."""
    out = []
    for line in text.replace("\\\n", " ").splitlines():
        words = shlex.split(line, comments=True)
        if words:
            out.append(words)
    return out


def how(words: list[str]) -> str:
    line = " ".join(words)
    matches = [key for key in HOW if line.startswith(key)]
    assert matches, f"README command not in tests/test_readme.py HOW: {line}"
    return HOW[max(matches, key=len)]


def _scratch(tmp_path: Path) -> Path:
    for name in ("configs", "examples", "tests", "benchmarks"):
        (tmp_path / name).symlink_to(ROOT / name)
    return tmp_path


def _run(words: list[str], cwd: Path, *, scripted: bool = False) -> None:
    env = {**os.environ, "COLUMNS": "120", "PYTHONPATH": str(ROOT)}
    while words and re.match(r"^[A-Z_]+=", words[0]):
        key, _, value = words.pop(0).partition("=")
        env[key] = value
    stdout_to = None
    if ">" in words:
        stdout_to = cwd / words[words.index(">") + 1]
        words = words[: words.index(">")]
    if words[0] == "make":
        done = subprocess.run(["make", "-n", *words[1:]], cwd=ROOT, capture_output=True, text=True)
        assert done.returncode == 0, (words, done.stderr)
        return
    assert words[0] == "accord", words
    argv = [sys.executable, "-m", "accord.cli", *words[1:]]
    if scripted:
        argv += ["--backend", "scripted"]
    done = subprocess.run(argv, cwd=cwd, capture_output=True, text=True, env=env, timeout=1800)
    assert done.returncode == 0, (words, done.stdout[-2000:], done.stderr[-2000:])
    assert "Traceback" not in done.stderr, (words, done.stderr)
    if stdout_to is not None:
        stdout_to.write_text(done.stdout)


def _shell_blocks() -> list[tuple[str, int]]:
    return [(text, line) for lang, text, line in blocks() if lang in ("bash", "sh", "")]


def test_every_readme_command_is_classified_and_no_block_is_of_an_unknown_kind() -> None:
    for lang, text, line in blocks():
        assert lang in ("bash", "yaml", "python"), (line, lang)
        if lang == "bash":
            for words in commands(text):
                how(words)
    assert not any("duckdb .accord" in t for t, _ in _shell_blocks())  # no such command


@pytest.mark.parametrize("block", _shell_blocks(), ids=lambda b: f"line{b[1]}")
def test_readme_shell_block_runs(block: tuple[str, int], tmp_path: Path) -> None:
    cwd = _scratch(tmp_path)
    text, _ = block
    for words in commands(text):
        mode = how(words)
        if mode in ("run", "make"):
            _run(words, cwd)
        elif mode == "scripted":
            _run(words, cwd, scripted=True)
        elif mode == "help":
            _run([*words[:2], "-h"], cwd)
        elif mode.startswith("tests/"):
            assert (ROOT / mode).is_file(), mode
    if "--json > result.json" in text:
        result = json.loads((cwd / "result.json").read_text())
        assert result["totals"]["decisions"] == 4 and (cwd / "answers" / "sum.txt").exists()


@pytest.mark.model
@pytest.mark.slow
@pytest.mark.parametrize("block", _shell_blocks(), ids=lambda b: f"line{b[1]}")
def test_readme_shell_block_runs_as_written_on_the_embedded_model(
    block: tuple[str, int], tmp_path: Path
) -> None:
    cwd = _scratch(tmp_path)
    text, _ = block
    for words in commands(text):
        if how(words) in ("run", "scripted", "model"):
            _run(words, cwd)


def test_readme_yaml_blocks_are_valid_crew_parts() -> None:
    minimal = {"name": "x", "roles": [{"name": "a"}]}
    for lang, text, line in blocks():
        if lang != "yaml":
            continue
        data = yaml.safe_load(text)  # the tour's flow mappings must parse
        assert isinstance(data, dict), line
        if set(data) <= set(CrewSpec.model_fields):
            CrewSpec.model_validate({**minimal, **data})
        else:
            assert set(data) <= set(TaskSpec.model_fields), (line, data)
            TaskSpec.model_validate({"id": "t", "question": "q", **data})


def test_the_tour_crew_runs(tmp_path: Path) -> None:
    from accord import Crew

    tour = next(
        text for lang, text, _ in blocks() if lang == "yaml" and "name: scripted-demo" in text
    )
    result = Crew(CrewSpec.model_validate(yaml.safe_load(tour))).run(
        db=tmp_path / "l.duckdb", pool="local"
    )
    assert result["capital"].answer == "Paris" and result.correct["capital"] is True


def _python_block() -> str:
    (code,) = [text for lang, text, _ in blocks() if lang == "python"]
    return code


def test_the_python_snippet_runs_rehearsed_as_its_comment_says(tmp_path: Path) -> None:
    code = _python_block()
    assert 'crew.run(backend="scripted", pool="local")' in code  # the README says so
    code = code.replace("crew.run()", 'crew.run(backend="scripted", pool="local")', 1)
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert (tmp_path / ".accord" / "ledger.duckdb").exists()


@pytest.mark.model
@pytest.mark.slow
def test_the_python_snippet_runs_as_written(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-c", _python_block()],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        timeout=1800,
    )
    assert done.returncode == 0, done.stderr[-2000:]
