"""Crew files: what loads, and the `path:line:col` errors for what does not."""

from __future__ import annotations

from pathlib import Path

import pytest

from accord import Crew, load_crew
from accord.errors import ConfigError

GOOD = """\
name: ok
roles:
  - name: solver
tasks:
  - id: a
    question: What is 1 plus 1?
    answer_type: number
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "crew.yaml"
    path.write_text(text)
    return path


def error_for(tmp_path: Path, text: str) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        load_crew(write(tmp_path, text))
    return info.value


def test_a_good_file_and_python_build_the_same_spec(tmp_path) -> None:
    from accord import Role, Task

    from_yaml = load_crew(write(tmp_path, GOOD))
    in_code = Crew(
        name="ok",
        roles=[Role(name="solver")],
        tasks=[Task(id="a", question="What is 1 plus 1?", answer_type="number")],
    )
    assert from_yaml == in_code.spec


@pytest.mark.parametrize(
    ("text", "line", "col", "message", "hint"),
    [
        (
            GOOD.replace("    question", "    questoin"),
            6,
            5,
            "tasks[0].questoin: unknown key",
            "did you mean 'question'?",
        ),
        (
            GOOD + "policy:\n  threshold: 1.5\n",
            9,
            14,
            "policy.threshold: input should be less",
            "<= 1",
        ),
        (GOOD + "    depends_on: [zzz]\n", 8, 18, "unknown task 'zzz'", "known tasks: a"),
        (GOOD.replace("name: ok\n", "name: ok\nname: again\n"), 2, 1, "duplicate key 'name'", None),
        (
            GOOD.replace("  - name: solver", "  - name: solver\n\t  goal: x"),
            4,
            1,
            "YAML syntax error",
            "tabs",
        ),
        (GOOD + "  - id: a\n    question: again\n", 8, 5, "duplicate task id 'a'", None),
        (
            GOOD + "    depends_on: [b]\n  - id: b\n    question: x\n    depends_on: [a]\n",
            8,
            17,
            "dependency cycle: a -> b -> a",
            None,
        ),
        (
            GOOD.replace("  - name: solver", "  - name: solver\n    model: big"),
            4,
            12,
            "unknown model tier 'big'",
            "models:",
        ),
        ("name: ok\n", 1, 1, "roles: is required", "add `roles:`"),
    ],
)
def test_errors_name_the_place_and_the_fix(tmp_path, text, line, col, message, hint) -> None:
    error = error_for(tmp_path, text)
    assert (error.line, error.col) == (line, col), error.render()
    assert message in error.message
    if hint:
        assert hint in (error.hint or "")
    assert error.render().startswith(f"{tmp_path / 'crew.yaml'}:{line}:{col}: ")


def test_empty_binary_and_directory_inputs(tmp_path) -> None:
    assert "empty" in error_for(tmp_path, "   \n").message
    bad = tmp_path / "bin.yaml"
    bad.write_bytes(b"name: \xff\xfe\n")
    with pytest.raises(ConfigError, match="UTF-8"):
        load_crew(bad)
    with pytest.raises(ConfigError, match="directory"):
        load_crew(tmp_path)


def test_alias_bomb_is_refused(tmp_path) -> None:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    for i in range(1, 9):
        lines.append(f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]")
    error = error_for(tmp_path, "\n".join(lines) + "\nname: bomb\n")
    assert "alias bomb" in error.message


def test_an_unknown_embedded_model_is_caught_at_load_time(tmp_path) -> None:
    text = GOOD + "models:\n  default: {backend: llama, model: nosuch}\n"
    error = error_for(tmp_path, text)
    assert "unknown model 'nosuch'" in error.message
    assert (error.line, error.col) == (9, 36)
