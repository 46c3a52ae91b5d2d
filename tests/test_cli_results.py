"""Results people can read: `accord run --out/--json`, `accord show`, wrapped tables."""

from __future__ import annotations

import json
import shutil

from tests.conftest import ROOT
from tests.test_cli import accord

LONG = "word " * 30 + "THE-END"


def _long_crew(tmp_path, answer: str = LONG) -> str:
    crew = tmp_path / "long.yaml"
    crew.write_text(
        "name: long\n"
        "models: {fake: {backend: scripted, options: {default: {text: "
        + json.dumps(answer)
        + ", prob: 0.95}}}}\n"
        "roles: [{name: writer, model: fake}]\n"
        "policy: {kind: single}\n"
        "tasks:\n  - {id: essay, question: Write at length., answer_type: free, max_tokens: 64}\n"
    )
    return str(crew)


def test_run_out_and_json_write_one_file_per_task_and_valid_json(tmp_path) -> None:
    out, db = tmp_path / "answers", tmp_path / "l.duckdb"
    done = accord(
        "run",
        "configs/scripted.yaml",
        "--db",
        str(db),
        "--pool",
        "local",
        "--out",
        str(out),
        "--json",
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)  # stdout is the JSON and nothing else
    answers = {d["task_id"]: d for d in result["decisions"]}
    assert sorted(p.name for p in out.iterdir()) == [
        "capital.txt",
        "planet.txt",
        "report.txt",
        "sum.txt",
    ]
    assert (out / "capital.txt").read_text() == "Paris\n"
    assert answers["capital"]["file"] == str(out / "capital.txt")
    assert answers["sum"]["answer"] == "42" and answers["sum"]["votes"][0]["answer"] == "42"
    assert answers["capital"]["correct"] is True and answers["capital"]["cost_usd"] == 0.0
    assert result["totals"]["decisions"] == 4 and result["ledger"] == str(db)


def test_crewai_output_file_is_written(tmp_path) -> None:
    project = tmp_path / "proj"
    shutil.copytree(ROOT / "tests/interop/data/latest_ai_development", project)
    done = accord(
        "run",
        str(project),
        "--input",
        "topic=AI agents",
        "--input",
        "current_year=2026",
        "--backend",
        "scripted",
        "--pool",
        "local",
        "--db",
        str(tmp_path / "l.duckdb"),
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    assert "output_file" not in done.stderr  # no longer dropped with a warning
    assert (tmp_path / "report.md").exists()  # relative to the working directory, as CrewAI
    with_out = accord(
        "run",
        str(project),
        "--input",
        "topic=AI agents",
        "--input",
        "current_year=2026",
        "--backend",
        "scripted",
        "--pool",
        "local",
        "--db",
        str(tmp_path / "l.duckdb"),
        "--out",
        str(tmp_path / "o"),
    )
    assert with_out.returncode == 0, with_out.stderr
    names = sorted(p.name for p in (tmp_path / "o").iterdir())
    assert names == ["report.md", "research_task.txt"]


def test_an_output_file_outside_its_folder_is_refused(tmp_path) -> None:
    crew = tmp_path / "c.yaml"
    crew.write_text(
        "name: c\nroles: [{name: a}]\ntasks:\n  - {id: t, question: q, output_file: ../../x.txt}\n"
    )
    done = accord("validate", str(crew))
    assert done.returncode == 2 and "tasks[0].output_file" in done.stderr, done.stderr
    assert "no '..'" in done.stderr and "Traceback" not in done.stderr


def test_tables_wrap_long_answers_instead_of_cutting_them(tmp_path) -> None:
    db = tmp_path / "l.duckdb"
    done = accord("run", _long_crew(tmp_path), "--db", str(db), "--pool", "local")
    assert done.returncode == 0, done.stderr
    # 157 characters: more than the answer column holds at 160 columns, so it wraps
    assert "THE-END" in done.stdout and done.stdout.count("word") == 30, done.stdout
    listing = accord("ledger", "latest", "--db", str(db))
    assert listing.returncode == 0, listing.stderr
    assert "THE-END" in listing.stdout and listing.stdout.count("word") == 30, listing.stdout


def test_show_prints_the_answer_attempts_vote_and_prompts_in_full(tmp_path) -> None:
    db = tmp_path / "l.duckdb"
    assert (
        accord("run", "configs/scripted.yaml", "--db", str(db), "--pool", "local").returncode == 0
    )
    done = accord("show", "--db", str(db))  # latest run, every task
    assert done.returncode == 0, done.stderr
    for text in (
        "task capital",
        "task sum",
        "answer: 42",
        "vote: 42 ×4",
        "stop k_max",
        "attempt 4 · voter · reviewer · scripted",
        "system: You are the analyst.",
        "user:   What is 17 plus 25?",
        "Answer with just the number.",
    ):
        assert text in done.stdout, (text, done.stdout)
    one = accord("show", "latest", "sum", "--db", str(db), "--no-prompts")
    assert one.returncode == 0 and "task capital" not in one.stdout
    assert "system:" not in one.stdout and "attempt 0 · primary · analyst" in one.stdout
    as_json = json.loads(accord("show", "latest", "sum", "--db", str(db), "--json").stdout)
    (decision,) = as_json["decisions"]
    assert (decision["votes"][0]["answer"], decision["votes"][0]["votes"]) == ("42", 4)
    assert decision["attempts"][0]["prompt"][1]["content"].startswith("What is 17 plus 25?")
    missing = accord("show", "latest", "nope", "--db", str(db))
    assert missing.returncode == 2 and "its tasks: capital, planet, report, sum" in missing.stderr


def test_show_without_stored_prompts_says_so(tmp_path) -> None:
    db = tmp_path / "l.duckdb"
    run = accord(
        "run", "configs/scripted.yaml", "--db", str(db), "--pool", "local", "--no-store-prompts"
    )
    assert run.returncode == 0, run.stderr
    done = accord("show", "latest", "capital", "--db", str(db))
    assert "(no prompt stored)" in done.stdout and "system:" not in done.stdout


def test_escape_sequences_and_markup_in_answers_do_not_reach_the_terminal(tmp_path) -> None:
    evil = "\x1b]0;pwned\x07\x1b[31mred\x1b[0m [bold]not bold[/bold] \u202eevil"
    db = tmp_path / "l.duckdb"
    run = accord("run", _long_crew(tmp_path, evil), "--db", str(db), "--pool", "local")
    shown = accord("show", "--db", str(db))
    listing = accord("ledger", "latest", "--db", str(db))
    for done in (run, shown, listing):
        assert done.returncode == 0, done.stderr
        assert "\x1b" not in done.stdout and "\x07" not in done.stdout
        assert "\u202e" not in done.stdout
        assert "\\x1b[31mred" in done.stdout and "[bold]not bold[/bold]" in done.stdout
