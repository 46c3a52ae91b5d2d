"""Broken crew files: `accord validate` and `accord run` exit 2 with one `path:line:col` line."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from accord.cli.app import main

ROOT = Path(__file__).resolve().parents[2]
BAD = ROOT / "tests" / "data" / "bad_crews"
ACCORD = ROOT / ".venv" / "bin" / "accord"

# What each file's message must say (a fragment), so a vaguer message fails the test.
EXPECTED = {
    "bad_name_pattern.yaml": "name: string should match pattern",
    "bad_task_id.yaml": "tasks[0].id: string should match pattern",
    "billion_laughs.yaml": "alias bomb",
    "choice_task_one_choice.yaml": "at least 2 choices",
    "concurrency_zero.yaml": "concurrency: input should be greater than or equal to 1",
    "deep_nesting.yaml": "nested too deeply",
    "dependency_cycle.yaml": "dependency cycle: a -> b -> c -> a",
    "directory.yaml": "is a directory",
    "duplicate_role_names.yaml": "duplicate role name 'solver'",
    "duplicate_task_ids.yaml": "duplicate task id 'q1'",
    "duplicate_yaml_key.yaml": "duplicate key 'name'",
    "empty.yaml": "the file is empty",
    "empty_question.yaml": "tasks[0].question: string should have at least 1 character",
    "empty_roles.yaml": "roles: list should have at least 1 item",
    "k_zero.yaml": "policy.k: input should be greater than or equal to 1",
    "merge_key.yaml": "merge keys",
    "missing_name.yaml": "name: is required",
    "missing_question.yaml": "tasks[0].question: is required",
    "missing_roles.yaml": "roles: is required",
    "missing_source_file.yaml": "sources[0].path: no such task file",
    "negative_budget.yaml": "budget.tokens_per_run: input should be greater than or equal to 0",
    "negative_decision_budget.yaml": "budget.tokens_per_decision: input should be greater",
    "negative_usd_budget.yaml": "budget.usd_per_run: input should be greater than or equal",
    "non_utf8.yaml": "not valid UTF-8 (byte 0xe9)",
    "nul_byte.yaml": "character #x0000 is not allowed",
    "null_roles.yaml": "roles: input should be a valid list",
    "only_comments.yaml": "no YAML document",
    "replicas_zero.yaml": "roles[0].replicas: input should be greater than or equal to 1",
    "scalar_document.yaml": "a crew file is a mapping",
    "self_dependency.yaml": "dependency cycle: a -> a",
    "tabs.yaml": "'\\t'",
    "task_threshold_above_one.yaml": "tasks[0].policy.threshold: input should be less than",
    "task_unknown_role.yaml": "unknown role 'solvr' (hint: did you mean 'solver'?)",
    "threshold_above_one.yaml": "policy.threshold: input should be less than or equal to 1",
    "threshold_negative.yaml": "policy.threshold: input should be greater than or equal to 0",
    "top_level_list.yaml": "a crew file is a mapping",
    "unknown_backend.yaml": "unknown backend 'lama' (hint: did you mean 'llama'?)",
    "unknown_budget_key.yaml": "did you mean 'tokens_per_decision'?",
    "unknown_confidence.yaml": "policy.confidence: unknown confidence estimator 'logprbs'",
    "unknown_dependency.yaml": "unknown task 'aa'",
    "unknown_model_tier.yaml": "unknown model tier 'large'",
    "unknown_key_with_bracket.yaml": "unknown key 'go[al' (hint: did you mean 'goal'?)",
    "unknown_inner_backend.yaml": "options.inner_options.inner: unknown backend 'scriptd'",
    "unknown_policy_key.yaml": "unknown key 'treshold' (hint: did you mean 'threshold'?)",
    "unknown_policy_kind.yaml": "policy.kind: input should be 'single', 'vote' or 'adaptive'",
    "unknown_role_key.yaml": "unknown key 'goall' (hint: did you mean 'goal'?)",
    "unknown_stopping_rule.yaml": "unknown stopping rule 'setled' (hint: did you mean 'settled'?",
    "unknown_task_key.yaml": "unknown key 'questoin' (hint: did you mean 'question'?)",
    "unknown_top_key.yaml": "unknown key 'rols' (hint: did you mean 'roles'?)",
    "unknown_voter.yaml": "policy.voters[1]: unknown role 'checker'",
    "unsafe_tag.yaml": "could not determine a constructor for the tag",
    "utf16.yaml": "not valid UTF-8",
    "wrong_type_question.yaml": "tasks[0].question: input should be a valid string",
    "wrong_type_replicas.yaml": "roles[0].replicas: input should be a valid integer",
    "wrong_type_roles.yaml": "roles: input should be a valid list",
    "wrong_type_seed.yaml": "seed: input should be a valid integer",
    "yaml_bad_indent.yaml": "YAML syntax error",
    "yaml_multiple_documents.yaml": "expected a single document",
    "yaml_unclosed_bracket.yaml": "YAML syntax error",
    "yaml_unclosed_quote.yaml": "YAML syntax error",
}
# Whole-file problems have no position inside the file: `path: message (hint: ...)`.
NO_POSITION = {"directory.yaml", "huge.yaml", "missing.yaml"}
LINE = re.compile(r"^error: (?P<path>.+?):(?P<line>\d+):(?P<col>\d+): (?P<msg>.+) \(hint: .+\)$")
FILE_LINE = re.compile(r"^error: (?P<path>.+?): (?P<msg>.+) \(hint: .+\)$")


def _corpus() -> list[Path]:
    return sorted(p for p in BAD.iterdir() if not p.name.startswith("."))


def _check(path: Path, code: int, stderr: str, fragment: str) -> None:
    assert "Traceback" not in stderr, stderr
    assert code == 2, (code, stderr)
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    pattern = FILE_LINE if path.name in NO_POSITION else LINE
    found = pattern.match(lines[0])
    assert found, lines[0]
    assert found["path"] == str(path), lines[0]
    assert fragment in found["msg"] + lines[0], lines[0]


def _run_main(
    argv: list[str], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> tuple[int, str]:
    monkeypatch.setattr(sys, "argv", ["accord", *argv])
    with pytest.raises(SystemExit) as exited:
        main()
    return int(exited.value.code or 0), capsys.readouterr().err


def test_corpus_is_big_and_every_file_has_an_expectation() -> None:
    names = {p.name for p in _corpus()}
    assert len(names) >= 30
    assert names == set(EXPECTED)


@pytest.mark.parametrize("command", ["validate", "run"])
@pytest.mark.parametrize("path", _corpus(), ids=lambda p: p.name)
def test_bad_crew_exits_2_with_a_located_hint(
    path: Path,
    command: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    argv = [command, str(path)]
    if command == "run":
        argv += ["--db", str(tmp_path / "ledger.duckdb"), "--pool", "local"]
    code, stderr = _run_main(argv, capsys, monkeypatch)
    _check(path, code, stderr, EXPECTED[path.name])
    assert not (tmp_path / "ledger.duckdb").exists()  # nothing started for a bad file


def test_fifty_megabyte_file_is_refused_without_reading_it(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    huge = tmp_path / "huge.yaml"
    with huge.open("w") as out:
        out.write("name: huge\nroles:\n  - name: solver\n")
        line = "# " + "x" * 1021 + "\n"
        for _ in range(50 * 1024):
            out.write(line)
    assert huge.stat().st_size > 50 * 1024 * 1024
    code, stderr = _run_main(["validate", str(huge)], capsys, monkeypatch)
    _check(huge, code, stderr, "crew files are limited to")


def test_missing_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    missing = tmp_path / "missing.yaml"
    code, stderr = _run_main(["run", str(missing)], capsys, monkeypatch)
    _check(missing, code, stderr, "no such file")


@pytest.mark.parametrize(
    "name",
    ["tabs.yaml", "deep_nesting.yaml", "unknown_top_key.yaml", "directory.yaml", "non_utf8.yaml"],
)
def test_real_cli_process(name: str, tmp_path: Path) -> None:
    """The installed `accord` script, in a narrow terminal: still one line, still exit 2."""
    path = BAD / name
    done = subprocess.run(
        [str(ACCORD), "run", str(path), "--db", str(tmp_path / "l.duckdb")],
        capture_output=True,
        text=True,
        timeout=60,
        env={"COLUMNS": "40", "PATH": "/usr/bin:/bin"},
    )
    _check(path, done.returncode, done.stderr, EXPECTED[name])
    assert done.stdout == ""
