"""A crew file is code (issue 20, items 4 and 10): what `accord validate` lists, and what
loading refuses (files outside the crew's folder, keys sent in clear, unknown validators,
options and placeholders, missing modules and tests files, booleans as numbers)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from accord import load_crew
from accord.crews.crew import Crew
from accord.crews.plan import runtime_task
from accord.crews.spec import TaskSpec
from accord.errors import ConfigError
from tests.conftest import ROOT

HEAD = "name: t\nmodels: {m: {backend: scripted}}\nroles: [{name: a, model: m}]\n"


def crew_file(folder: Path, body: str, name: str = "crew.yaml") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(HEAD + body)
    return path


def task_with(validator: str) -> str:
    return f"tasks:\n  - id: q\n    question: Write code.\n    validators:\n      - {validator}\n"


def refused(path: Path) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        load_crew(path)
    return info.value


def accord(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "200", "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-m", "accord.cli", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        timeout=120,
    )


# -- what validate lists ---------------------------------------------------------------------


def test_validate_lists_every_setting_that_runs_code_reads_files_or_sends_secrets(
    tmp_path: Path,
) -> None:
    (tmp_path / "tests.py").write_text("assert f() == 1\n")
    path = crew_file(
        tmp_path,
        "models:\n"
        "  m: {backend: scripted}\n"
        "  remote: {backend: openai, options: {base_url: 'https://llm.example/v1',"
        " api_key_env: AWS_SECRET_ACCESS_KEY}}\n"
        "tasks:\n"
        "  - id: q\n"
        "    question: Write f.\n"
        "    validators:\n"
        "      - predicate: os:system\n"
        "      - any_of: [{schema: json:JSONDecoder}, {regex: x}]\n"
        "      - code_tests: {tests_file: tests.py, unsafe_local: true}\n",
    )
    path.write_text(path.read_text().replace(HEAD.splitlines()[1] + "\n", "", 1))
    done = accord("validate", str(path))
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "trusted settings: 5" in out
    for text in (
        f"{path}:10:9: tasks[0].validators[0].predicate: [runs code] predicate: calls os:system",
        "tasks[0].validators[1].any_of[0].schema: [runs code] schema: imports the model "
        "json:JSONDecoder",
        "[runs code] code_tests: runs model-written code ON THIS HOST, unsandboxed",
        f"[reads files] reads {tmp_path / 'tests.py'}",
        "[sends data] openai: sends prompts to https://llm.example/v1, with "
        "$AWS_SECRET_ACCESS_KEY (when set) as a bearer token",
    ):
        assert text in out, out


def test_validate_reads_tool_effects_without_touching_the_shop(tmp_path: Path) -> None:
    done = accord("validate", str(ROOT / "configs" / "refund.yaml"), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "finance_approver may call adjust_payment (write; no approval)" in done.stdout
    assert "pre-approves issue_refund when amount <= 500 with no one asked" in done.stdout
    assert not (tmp_path / ".accord").exists()  # the shop (reset: true) was not created


# -- files stay inside the crew's folder -------------------------------------------------------


@pytest.mark.parametrize("where", ["../secret.py", "/etc/hostname", "link.py"])
def test_a_tests_file_outside_the_crews_folder_is_refused(tmp_path: Path, where: str) -> None:
    (tmp_path / "secret.py").write_text("TOKEN = 'x'\n")
    folder = tmp_path / "crew"
    folder.mkdir()
    (folder / "link.py").symlink_to(tmp_path / "secret.py")  # a link inside, pointing out
    path = crew_file(folder, task_with(f"code_tests: {{tests_file: '{where}'}}"))
    error = refused(path)
    assert "is outside the crew file's folder" in error.message
    assert error.line == 8 and "files_outside_crew_dir" in (error.hint or "")
    opted = path.read_text() + "allow: {files_outside_crew_dir: true}\n"
    path.write_text(opted)
    if Path(where).is_absolute() and not Path(where).exists():
        return
    spec = load_crew(path)  # an explicit opt-in lets it through
    assert spec.allow.files_outside_crew_dir


def test_sources_outside_the_folder_are_refused_unless_allowed(tmp_path: Path) -> None:
    (tmp_path / "items.jsonl").write_text('{"input": "1+1", "target": "2"}\n')
    path = crew_file(tmp_path / "crew", "sources: [{path: ../items.jsonl}]\n")
    assert "task file '../items.jsonl' is outside" in refused(path).message
    path.write_text(path.read_text() + "allow: {files_outside_crew_dir: true}\n")
    assert len(Crew.from_yaml(path).tasks()) == 1


def test_a_tests_file_is_read_from_the_crews_folder_wherever_the_run_starts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "crew"
    folder.mkdir()
    (folder / "t.py").write_text("assert True\n")
    path = crew_file(folder, task_with("code_tests: {tests_file: t.py}"))
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "t.py").write_text("SECRET = 1\n")  # what a cwd-relative read would take
    monkeypatch.chdir(elsewhere)
    spec = load_crew(path)
    (config,) = spec.tasks[0].validators
    assert config == {"code_tests": {"tests_file": str((folder / "t.py").resolve())}}


def test_a_missing_tests_file_is_a_load_error(tmp_path: Path) -> None:
    error = refused(crew_file(tmp_path, task_with("code_tests: {tests_file: none.py}")))
    assert "no such tests_file 'none.py'" in error.message and error.line == 8


# -- keys are not sent in clear ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "key", "ok"),
    [
        ("http://llm.example/v1", "", False),
        ("http://10.0.0.5:8000/v1", ", api_key_env: MY_KEY", False),
        ("https://llm.example/v1", ", api_key_env: MY_KEY", True),
        ("http://127.0.0.1:8000/v1", "", True),
        ("http://localhost:8000/v1", "", True),
        ("http://10.0.0.5:8000/v1", ", api_key_env: ''", True),  # no key sent
        ("file:///etc/passwd", "", False),
    ],
)
def test_an_api_key_goes_only_over_https_or_to_loopback(
    tmp_path: Path, url: str, key: str, ok: bool
) -> None:
    path = crew_file(
        tmp_path, f"models: {{m: {{backend: openai, options: {{base_url: '{url}'{key}}}}}}}\n"
    )
    path.write_text(path.read_text().replace("models: {m: {backend: scripted}}\n", "", 1))
    if ok:
        load_crew(path)
        return
    error = refused(path)
    assert error.line == 3 and "base_url" in str(error)
    if url.startswith("http:"):
        path.write_text(path.read_text() + "allow: {api_key_over_http: true}\n")
        load_crew(path)


# -- what a run would fail on later fails at load ------------------------------------------


@pytest.mark.parametrize(
    ("validator", "message", "hint"),
    [
        ("regexx: '^a$'", "unknown validator 'regexx'", "did you mean 'regex'?"),
        ("any_of: [{nonempty: null}, {shcema: {a: string}}]", "unknown validator 'shcema'", ""),
        ("code_tests: {tests_fil: t.py}", "unknown option 'tests_fil'", "'tests_file'"),
        ("predicate: no_such_module_xyz:f", "no module named 'no_such_module_xyz'", ""),
        ("predicate: accord.no_such_mod:f", "no module named 'accord.no_such_mod'", ""),
        ("schema: not-a-path", "is not an import path", "pkg.mod:name"),
        ("regex: '(['", "invalid regex", ""),
        ("schema: {a: strnig}", "unknown type 'strnig'", ""),
        ("critic: {backend: scripted, options: {scirpt: {}}}", "unknown option 'scirpt'", ""),
    ],
)
def test_validator_mistakes_are_load_errors(
    tmp_path: Path, validator: str, message: str, hint: str
) -> None:
    error = refused(crew_file(tmp_path, task_with(validator)))
    assert message in error.message and hint in (error.hint or "")
    assert error.line is not None and error.line >= 8


def test_a_predicate_module_is_found_without_running_it(tmp_path: Path) -> None:
    (tmp_path / "boom_pkg").mkdir()
    (tmp_path / "boom_pkg" / "__init__.py").write_text("raise SystemExit('ran')\n")
    (tmp_path / "boom_pkg" / "checks.py").write_text("def ok(a): return True\n")
    sys.path.insert(0, str(tmp_path))
    try:
        load_crew(crew_file(tmp_path, task_with("predicate: boom_pkg.checks:ok")))
    finally:
        sys.path.remove(str(tmp_path))
    assert "boom_pkg" not in sys.modules


@pytest.mark.parametrize(
    ("models", "message", "hint"),
    [
        ("{m: {backend: llama, options: {n_ctxx: 512}}}", "unknown option 'n_ctxx'", "'n_ctx'"),
        ("{m: {backend: scripted, options: {scirpt: {}}}}", "'scirpt' for backend", "'script'"),
        (
            "{m: {backend: retry, options: {inner: scripted, attempts: 2, defualt: x}}}",
            "unknown option 'defualt' for backend 'scripted'",
            "'default'",
        ),
        (
            "{m: {backend: retry, options: {inner: faulty, inner_options: {rats: {}}}}}",
            "unknown option 'rats' for backend 'scripted'",
            "",
        ),
    ],
)
def test_unknown_backend_options_are_load_errors(
    tmp_path: Path, models: str, message: str, hint: str
) -> None:
    path = crew_file(tmp_path, "")
    path.write_text(path.read_text().replace("{m: {backend: scripted}}", models))
    error = refused(path)
    assert message in error.message and hint in (error.hint or "") and error.line == 2


def test_backend_options_that_exist_load(tmp_path: Path) -> None:
    path = crew_file(tmp_path, "")
    models = (
        "{m: {backend: retry, options: {inner: faulty, attempts: 2, "
        "inner_options: {inner: scripted, rates: {error: 0.1}, default: x}}}}"
    )
    path.write_text(path.read_text().replace("{m: {backend: scripted}}", models))
    load_crew(path)


# -- placeholders and templating ------------------------------------------------------------


def test_an_unknown_placeholder_is_a_load_error_at_its_line(tmp_path: Path) -> None:
    body = (
        "tasks:\n"
        "  - {id: a, question: First}\n"
        "  - id: b\n"
        "    question: 'Use {a} and {nope}'\n"
        "    depends_on: [a]\n"
        "  - {id: c, question: 'Use {a}'}\n"
        "  - id: d\n"
        "    question: 'Literal {{a}} and JSON {\"k\": 1}'\n"
    )
    error = refused(crew_file(tmp_path, body))
    assert (error.line, error.message) == (7, "tasks[1].question: unknown placeholder {nope}")
    assert "{{nope}}" in (error.hint or "")
    fixed = crew_file(tmp_path, body.replace(" and {nope}", ""))
    error = refused(fixed)
    assert "{a} is the answer of task 'a', which this task does not depend on" in error.message
    load_crew(crew_file(tmp_path, body.replace(" and {nope}", "").replace("'Use {a}'}", "x}")))


def test_an_answer_is_substituted_once_never_expanded_again() -> None:
    task = TaskSpec(id="c", question="A={a} B={b} literal={{a}}", depends_on=["a", "b"])
    prompt = runtime_task(task, {"a": "{b}", "b": "{a}"}).prompt
    assert prompt == "A={b} B={a} literal={a}"


# -- strict types -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        "seed: true\n",
        "tasks: [{id: a, question: q, max_tokens: true}]\n",
        "tasks: [{id: a, question: q, max_tokens: '8'}]\n",
        "concurrency: 2.5\n",
    ],
)
def test_a_boolean_or_text_is_not_a_number_in_a_crew_file(tmp_path: Path, body: str) -> None:
    error = refused(crew_file(tmp_path, body))
    assert "valid integer" in error.message and error.line is not None


def test_a_plan_step_with_amount_true_is_refused(tmp_path: Path) -> None:
    from accord.tools.executor import ToolExecutor
    from accord.tools.permissions import Permissions
    from accord.tools.spec import GrantSpec
    from accord.tools.toolsets import create_toolset

    shop = create_toolset("shop", db=str(tmp_path / "shop.duckdb"), reset=True)
    executor = ToolExecutor(shop, Permissions({"s": [GrantSpec(tool="issue_store_credit")]}))
    outcome = executor.call("s", "issue_store_credit", {"order_id": "A100", "amount": True})
    assert (outcome.decision, outcome.policy) == ("refused", "schema")
    assert "amount" in outcome.reason


# -- sources are streamed -------------------------------------------------------------------


def test_a_source_with_a_limit_reads_only_the_lines_it_needs(tmp_path: Path) -> None:
    lines = [json.dumps({"input": f"{i}+1", "target": str(i + 1)}) for i in range(50)]
    (tmp_path / "items.jsonl").write_text("\n".join([*lines, "not json at all"]) + "\n")
    path = crew_file(tmp_path, "sources: [{path: items.jsonl, offset: 5, limit: 10}]\n")
    tasks = Crew.from_yaml(path).tasks()
    assert [t.question for t in tasks] == [f"{i}+1" for i in range(5, 15)]
    whole = crew_file(tmp_path, "sources: [{path: items.jsonl}]\n", name="whole.yaml")
    with pytest.raises(ConfigError, match="not a JSON object") as info:
        Crew.from_yaml(whole).tasks()
    assert info.value.line == 51


def test_an_overlong_source_line_is_refused_by_line(tmp_path: Path) -> None:
    from accord.crews import datasets

    big = json.dumps({"input": "x" * (datasets.MAX_LINE_BYTES + 10), "target": "1"})
    (tmp_path / "items.jsonl").write_text('{"input": "a", "target": "1"}\n' + big + "\n")
    path = crew_file(tmp_path, "sources: [{path: items.jsonl}]\n")
    with pytest.raises(ConfigError, match="longer than 1 MB") as info:
        Crew.from_yaml(path).tasks()
    assert info.value.line == 2


# -- the CLI ---------------------------------------------------------------------------------


def test_validate_errors_are_one_line_with_the_place_and_exit_2(tmp_path: Path) -> None:
    path = crew_file(tmp_path, task_with("predicate: no_such_module_xyz:f"))
    done = accord("validate", str(path))
    assert done.returncode == 2 and "Traceback" not in done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: {path}:8:")


@pytest.mark.parametrize("path", ["os:system", "builtins:eval", "builtins:exec"])
def test_a_builtin_is_not_a_predicate(path: str) -> None:
    from accord.consensus.validators import build_validator

    with pytest.raises(ConfigError, match="is a builtin, not a predicate function"):
        build_validator({"predicate": path})


def test_a_missing_agent_module_is_a_load_error(tmp_path: Path) -> None:
    path = crew_file(tmp_path, "")
    agent = "{m: {backend: crewai-agent, options: {agent: 'no_such_crew_xyz.agents:make'}}}"
    path.write_text(path.read_text().replace("{m: {backend: scripted}}", agent))
    error = refused(path)
    assert "no module named 'no_such_crew_xyz.agents'" in error.message and error.line == 2


def test_a_json_task_file_over_the_cap_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from accord.crews import datasets

    (tmp_path / "task.json").write_text(json.dumps({"examples": [{"input": "a", "target": "b"}]}))
    monkeypatch.setattr(datasets, "MAX_JSON_BYTES", 16)
    path = crew_file(tmp_path, "sources: [{path: task.json}]\n")
    with pytest.raises(ConfigError, match="convert it to JSONL"):
        Crew.from_yaml(path).tasks()


@pytest.mark.parametrize("reset", [True, False])
def test_the_shop_never_resets_or_writes_into_a_file_that_is_not_its_own(
    tmp_path: Path, reset: bool
) -> None:
    import duckdb

    from accord.tools.toolsets import create_toolset

    precious = tmp_path / "precious.txt"
    precious.write_text("keep me")
    ledger = tmp_path / "ledger.duckdb"
    with duckdb.connect(str(ledger)) as db:
        db.execute("CREATE TABLE runs (run_id VARCHAR)")
    for target in (precious, ledger):
        shop = create_toolset("shop", db=str(target), reset=reset)
        with pytest.raises(ConfigError, match="is not a shop database"):
            shop.get("lookup_order")(order_id="A100")
    assert precious.read_text() == "keep me"
    with duckdb.connect(str(ledger), read_only=True) as db:
        assert [r[0] for r in db.execute("SHOW TABLES").fetchall()] == ["runs"]
