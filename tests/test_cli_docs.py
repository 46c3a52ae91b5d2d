"""Docs that run: `accord sql`, `accord schema`, the crew reference, `accord init`."""

from __future__ import annotations

import json

from accord.crews.reference import crew_json_schema, reference_markdown, undocumented
from accord.crews.spec import CrewSpec
from tests.conftest import ROOT
from tests.test_cli import accord


def test_sql_reads_the_ledger_as_a_table_json_or_csv_and_never_writes(tmp_path) -> None:
    db = tmp_path / "l.duckdb"
    assert (
        accord("run", "configs/scripted.yaml", "--db", str(db), "--pool", "local").returncode == 0
    )
    query = "SELECT task_id, n_attempts FROM decisions ORDER BY task_id"
    table = accord("sql", "--db", str(db), query)
    assert table.returncode == 0, table.stderr
    assert "capital" in table.stdout and "4 row(s)" in table.stdout
    rows = json.loads(accord("sql", "--db", str(db), query, "--json").stdout)
    assert rows[0] == {"task_id": "capital", "n_attempts": 1} and len(rows) == 4
    csv = accord("sql", "--db", str(db), query, "--csv").stdout.splitlines()
    assert csv[:2] == ["task_id,n_attempts", "capital,1"]
    for bad, message in (("DELETE FROM runs", "read-only"), ("SELEC 1", "syntax error")):
        done = accord("sql", "--db", str(db), bad)
        assert done.returncode == 2 and message in done.stderr, done.stderr
        assert "Traceback" not in done.stderr
    assert len(json.loads(accord("sql", "--db", str(db), query, "--json").stdout)) == 4


def test_the_crew_reference_is_current_and_documents_every_field() -> None:
    assert undocumented() == [], "add Field(description=...) or a note in crews/reference.py"
    page = (ROOT / "docs" / "CREW_REFERENCE.md").read_text()
    assert page == reference_markdown(), "docs/CREW_REFERENCE.md is stale: run `make docs`"
    for name in CrewSpec.model_fields:
        assert f"| `{name}` |" in page
    assert "## The scripted backend" in page and "indexed by the attempt's seed" in page


def test_schema_prints_the_json_schema_with_every_property_described() -> None:
    done = accord("schema")
    assert done.returncode == 0, done.stderr
    schema = json.loads(done.stdout)
    assert schema == json.loads(json.dumps(crew_json_schema()))
    assert schema["additionalProperties"] is False and "roles" in schema["required"]
    for definition in [schema, *schema["$defs"].values()]:
        for name, prop in definition.get("properties", {}).items():
            assert prop.get("description"), (definition.get("title"), name)
    assert accord("schema", "--markdown").stdout == reference_markdown()


def test_init_writes_a_starter_crew_that_runs(tmp_path) -> None:
    done = accord("init", "starter", "--backend", "scripted", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    crew = tmp_path / "starter" / "crew.yaml"
    assert crew.read_text().startswith("# yaml-language-server: $schema=crew.schema.json\n")
    schema = json.loads((tmp_path / "starter" / "crew.schema.json").read_text())
    assert schema["title"] == "CrewSpec"
    run = accord("run", str(crew), "--pool", "local", "--db", str(tmp_path / "l.duckdb"), "--json")
    assert run.returncode == 0, run.stderr
    answers = {d["task_id"]: d for d in json.loads(run.stdout)["decisions"]}
    assert answers["capital"]["answer"] == "Paris" and answers["sum"]["answer"] == "5"
    assert answers["sum"]["path"] != "single"  # the scripted sum is unsure: the crew votes
    again = accord("init", "starter", cwd=tmp_path)
    assert again.returncode == 2 and "--force" in again.stderr


def test_init_for_the_embedded_model_is_a_valid_crew(tmp_path) -> None:
    assert accord("init", "mine", cwd=tmp_path).returncode == 0
    crew = tmp_path / "mine" / "crew.yaml"
    assert "backend: llama" in crew.read_text()
    done = accord("validate", str(crew))
    assert done.returncode == 0 and "ok (2 roles, 3 tasks" in done.stdout, done.stderr
