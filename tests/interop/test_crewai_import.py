"""Importing CrewAI projects (YAML and JSON layouts) into accord crews."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from accord.crews.crew import Crew
from accord.errors import ConfigError
from accord.interop import jsonc
from accord.interop.crewai_import import find_project, import_crewai, parse_inputs

DATA = Path(__file__).parent / "data"
LATEST = DATA / "latest_ai_development"
TRIP = DATA / "trip_planner"
JSON = DATA / "research_json"
LATEST_INPUTS = {"topic": "AI LLMs", "current_year": "2026"}
TRIP_INPUTS = {"origin": "Paris", "cities": "Rome, Oslo", "range": "June", "interests": "food"}


def test_template_layout_src_pkg_config_maps_agents_and_tasks() -> None:
    imported = import_crewai(LATEST, inputs=LATEST_INPUTS)
    spec = imported.spec
    assert spec.name == "latest_ai_development"
    researcher, analyst = spec.roles
    assert analyst.name == "reporting_analyst"
    assert researcher.name == "researcher"
    assert researcher.goal == "Uncover cutting-edge developments in AI LLMs"
    assert researcher.instructions.startswith("Your role: AI LLMs Senior Data Researcher.")
    assert "seasoned researcher" in researcher.instructions
    research, report = spec.tasks
    assert research.role == "researcher" and report.role == "reporting_analyst"
    assert "given the current year is 2026." in research.question
    assert "Expected output: A list with 10 bullet points" in research.question
    assert research.depends_on == [] and report.depends_on == ["research_task"]
    assert imported.warnings == ()  # output_file is carried over: `accord run` writes it
    assert research.output_file is None and report.output_file == "report.md"


def test_config_layout_maps_llm_context_async_and_lists_unsupported_once() -> None:
    imported = import_crewai(TRIP, inputs=TRIP_INPUTS)
    spec = imported.spec
    tiers = {r.name: r.model for r in spec.roles}
    assert tiers == {
        "city_selection_agent": "openai/gpt-4o-mini",
        "local_expert": "default",
        "travel_concierge": "ollama/llama3.1",
    }
    assert spec.models["openai/gpt-4o-mini"].backend == "openai"
    assert spec.models["openai/gpt-4o-mini"].model == "gpt-4o-mini"
    assert spec.models["ollama/llama3.1"].options["base_url"] == "http://localhost:11434/v1"
    deps = {t.id: t.depends_on for t in spec.tasks}
    # async tasks run in parallel; explicit context becomes dependencies
    assert deps == {
        "identify_task": [],
        "gather_task": [],
        "budget_task": [],
        "plan_task": ["identify_task", "gather_task", "budget_task"],
    }
    budget = next(t for t in spec.tasks if t.id == "budget_task")
    assert "Reply with one JSON object only." in budget.question
    assert "Traveling from: Paris" in spec.tasks[0].question
    (warning,) = imported.warnings
    for item in (
        "agents.city_selection_agent.tools (SerperDevTool, ScrapeWebsiteTool)",
        "agents.local_expert.allow_delegation",
        "agents.local_expert.max_iter",
        "agents.city_selection_agent.verbose",
        "tasks.budget_task.output_json",
        "tasks.plan_task.human_input",
    ):
        assert item in warning
    assert "city_selection_agent.allow_delegation" not in warning  # false is what accord does


def test_json_project_with_comments_inputs_defaults_and_overrides() -> None:
    imported = import_crewai(JSON, inputs={"audience": "engineers"})
    spec = imported.spec
    assert spec.name == "research_crew"
    research, analysis = spec.tasks
    assert research.question.startswith(
        "Research llamas for an audience of engineers. Note: use // sparingly."
    )
    assert analysis.depends_on == ["research_task"] and analysis.role == "analyst"
    analyst = spec.models["openai/gpt-4o-mini"]
    assert analyst.options == {"base_url": "http://127.0.0.1:8000/v1"}
    (warning,) = imported.warnings
    assert "agents.analyst.llm.temperature" in warning and "crew.verbose" in warning
    assert "tasks.analysis_task.markdown" in warning


@pytest.mark.parametrize(
    "path",
    [
        LATEST,
        LATEST / "src/latest_ai_development/config",
        LATEST / "src/latest_ai_development/config/agents.yaml",
        LATEST / "src/latest_ai_development/config/tasks.yaml",
    ],
)
def test_every_way_of_naming_a_yaml_project_finds_it(path: Path) -> None:
    project = find_project(path)
    assert project is not None and project.kind == "yaml"
    assert project.tasks == LATEST / "src/latest_ai_development/config/tasks.yaml"


def test_json_project_found_by_folder_or_file() -> None:
    assert find_project(JSON).kind == "json"  # type: ignore[union-attr]
    assert find_project(JSON / "crew.jsonc").kind == "json"  # type: ignore[union-attr]
    assert find_project(ROOT_DEMO) is None


ROOT_DEMO = Path(__file__).resolve().parents[2] / "configs" / "demo.yaml"


def test_missing_placeholder_names_file_line_and_the_flag() -> None:
    with pytest.raises(ConfigError) as info:
        import_crewai(LATEST, inputs={"topic": "AI"})
    err = info.value
    assert err.path.endswith("config/tasks.yaml") and err.line == 2
    assert "{current_year}" in err.message and err.hint == "pass `--input current_year=...`"


def test_unknown_agent_is_an_error_at_its_line(tmp_path: Path) -> None:
    project = tmp_path / "crew" / "config"
    shutil.copytree(TRIP / "config", project)
    tasks = project / "tasks.yaml"
    tasks.write_text(tasks.read_text().replace("agent: local_expert", "agent: local_exprt"))
    with pytest.raises(ConfigError) as info:
        import_crewai(project.parent, inputs=TRIP_INPUTS)
    assert info.value.line == 17 and "unknown agent 'local_exprt'" in info.value.message


def test_two_crews_in_src_is_ambiguous(tmp_path: Path) -> None:
    for pkg in ("one", "two"):
        shutil.copytree(
            LATEST / "src/latest_ai_development/config", tmp_path / "src" / pkg / "config"
        )
    with pytest.raises(ConfigError, match="several CrewAI crews"):
        find_project(tmp_path)


def test_jsonc_errors_have_positions_and_strings_keep_comment_markers() -> None:
    assert jsonc.loads('{"a": "x // y /* z */", /* c */ "b": [1, 2,],}') == {
        "a": "x // y /* z */",
        "b": [1, 2],
    }
    with pytest.raises(ConfigError) as info:
        jsonc.loads('{\n  // note\n  "a": 1\n  "b": 2\n}', path="crew.jsonc")
    assert info.value.line == 4


def test_parse_inputs() -> None:
    assert parse_inputs(["topic=AI", "q=a=b"]) == {"topic": "AI", "q": "a=b"}
    with pytest.raises(ConfigError, match="key=value"):
        parse_inputs(["topic"])


def test_crew_from_path_keeps_warnings_and_plain_crew_files_still_load() -> None:
    crew = Crew.from_path(TRIP, inputs=TRIP_INPUTS)
    assert len(crew.warnings) == 1 and len(crew.tasks()) == 4
    assert Crew.from_path(ROOT_DEMO).warnings == ()


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "CREWAI_TELEMETRY_OPT_OUT": "true",
        "OTEL_SDK_DISABLED": "true",
        "COLUMNS": "200",
    }
    return subprocess.run(
        [sys.executable, "-c", "from accord.cli import main; main()", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=env,
        timeout=120,
    )


def test_cli_validate_accepts_projects_and_warns_once(tmp_path: Path) -> None:
    out = _cli(
        "validate",
        str(TRIP),
        "--input",
        "origin=Paris",
        "-i",
        "cities=Rome",
        "-i",
        "range=June",
        "-i",
        "interests=food",
        cwd=tmp_path,
    )
    assert out.returncode == 0, out.stderr
    assert "ok (3 roles, 4 tasks" in out.stdout
    assert out.stderr.count("warning:") == 1
    missing = _cli("validate", str(LATEST), cwd=tmp_path)
    assert missing.returncode == 2
    assert "agents.yaml:2:3: researcher.role" in missing.stderr
    assert "--input topic=" in missing.stderr


def test_cli_runs_an_imported_project_into_the_ledger(tmp_path: Path) -> None:
    db = tmp_path / "ledger.duckdb"
    out = _cli(
        "run",
        str(LATEST),
        "--backend",
        "scripted",
        "--pool",
        "local",
        "--db",
        str(db),
        "-i",
        "topic=AI",
        "-i",
        "current_year=2026",
        cwd=tmp_path,
    )
    assert out.returncode == 0, out.stderr
    with duckdb.connect(str(db), read_only=True) as con:
        rows = con.execute("SELECT task_id FROM decisions ORDER BY task_id").fetchall()
        crew = con.execute("SELECT crew FROM runs").fetchone()
    assert rows == [("reporting_task",), ("research_task",)]
    assert crew == ("latest_ai_development",)


def test_an_imported_task_keeps_the_whole_reply_as_its_answer(tmp_path: Path) -> None:
    """CrewAI's task output is the agent's whole final answer: a multi-line report stays whole
    (a `text` task would keep its first line), and the next task gets all of it as context."""
    from accord.models.base import CompletionRequest
    from accord.models.scripted import Scripted

    report = "1. GPT-5 ships\n2. Open weights catch up\n\n3. Agents everywhere"
    prompts: list[str] = []

    def script(request: CompletionRequest) -> Scripted:
        prompts.append(request.messages[-1].content)
        return Scripted(f"  {report}\n", 0.9)

    imported = import_crewai(LATEST, inputs=LATEST_INPUTS)
    assert {t.kind for t in imported.spec.tasks} == {"free"}
    crew = Crew(imported.spec, base_dir=imported.base_dir, source=imported.source)
    db = tmp_path / "ledger.duckdb"
    result = crew.run(db=db, backend="scripted", backend_options={"script": script}, pool="local")
    assert result.answers == {"research_task": report, "reporting_task": report}
    assert report in prompts[1]  # the reporting task saw the whole research output
    assert not any(p.rstrip().endswith("Answer briefly.") for p in prompts)
    with duckdb.connect(str(db), read_only=True) as con:
        stored = con.execute("SELECT answer FROM decisions ORDER BY task_id").fetchall()
    assert stored == [(report,), (report,)]


@pytest.mark.model
def test_template_project_runs_end_to_end_on_the_embedded_model(tmp_path: Path) -> None:
    imported = import_crewai(LATEST, inputs=LATEST_INPUTS, max_tokens=24)
    crew = Crew(imported.spec, base_dir=imported.base_dir, source=imported.source)
    result = crew.run(db=tmp_path / "ledger.duckdb", pool="local")
    assert [d.task_id for d in result.decisions] == ["research_task", "reporting_task"]
    assert all(d.answer for d in result.decisions)
    assert all(a.model == "smollm2-135m" for d in result.decisions for a in d.attempts)
    assert result.tokens > 0


def test_cli_runs_a_json_project_with_input_defaults(tmp_path: Path) -> None:
    db = tmp_path / "ledger.duckdb"
    out = _cli(
        "run",
        str(JSON / "crew.jsonc"),
        "--backend",
        "scripted",
        "--pool",
        "local",
        "--db",
        str(db),
        cwd=tmp_path,
    )
    assert out.returncode == 0, out.stderr
    assert out.stderr.count("warning:") == 1
    with duckdb.connect(str(db), read_only=True) as con:
        rows = con.execute("SELECT task_id FROM decisions ORDER BY task_id").fetchall()
    assert rows == [("analysis_task",), ("research_task",)]


def test_a_folder_that_is_no_project_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="is a directory"):
        Crew.from_path(tmp_path)


def test_llms_accord_cannot_reach_fall_back_to_the_default_tier(tmp_path: Path) -> None:
    config = tmp_path / "config"
    config.mkdir()
    (config / "agents.yaml").write_text(
        "writer:\n  role: Writer\n  goal: Write\n  backstory: Writes.\n"
        "  llm: anthropic/claude-sonnet\n"
    )
    (config / "tasks.yaml").write_text(
        "write:\n  description: Write a haiku.\n  expected_output: A haiku.\n  agent: writer\n"
    )
    imported = import_crewai(tmp_path)
    assert imported.spec.roles[0].model == "default"
    assert "agents.writer.llm ('anthropic/claude-sonnet'" in imported.warnings[0]


def test_context_naming_an_unknown_task_is_an_error_at_its_line(tmp_path: Path) -> None:
    project = tmp_path / "crew" / "config"
    shutil.copytree(TRIP / "config", project)
    tasks = project / "tasks.yaml"
    tasks.write_text(tasks.read_text().replace("    - gather_task", "    - gathr_task"))
    with pytest.raises(ConfigError) as info:
        import_crewai(project.parent, inputs=TRIP_INPUTS)
    assert info.value.path == str(tasks) and info.value.line == 35
    assert "'gathr_task'" in info.value.message and "gather_task" in info.value.hint
