"""A run's answers as files: one per task under a folder, and CrewAI's `output_file`."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from accord.crews.crew import CrewResult
from accord.crews.spec import TaskSpec


def answer_paths(
    result: CrewResult, tasks: Sequence[TaskSpec], out: str | Path | None = None
) -> dict[str, Path]:
    """Where each decided task's answer goes.

    With `out`, every task's answer goes to `out/<task id>.txt`, or to `out/<output_file>`
    when the task names one; without it only tasks with an `output_file` are written, relative
    to the working directory (as CrewAI does).
    """
    decided = {d.task_id for d in result.decisions}
    paths: dict[str, Path] = {}
    for task in tasks:
        if task.id not in decided:
            continue
        if task.output_file is not None:
            paths[task.id] = Path(out or ".") / task.output_file
        elif out is not None:
            paths[task.id] = Path(out) / f"{task.id}.txt"
    return paths


def write_answers(
    result: CrewResult, tasks: Sequence[TaskSpec], out: str | Path | None = None
) -> dict[str, Path]:
    """Write the answers `answer_paths` places (UTF-8, ending in a newline); return the paths."""
    paths = answer_paths(result, tasks, out)
    for task_id, path in paths.items():
        answer = result[task_id].answer
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(answer if answer.endswith("\n") else answer + "\n", encoding="utf-8")
    return paths
