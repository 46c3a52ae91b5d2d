"""Prompt building: a role and a task become chat messages."""

from __future__ import annotations

from dataclasses import dataclass

from accord.consensus.records import Task
from accord.models.base import Message

_ANSWER_HINTS = {
    "number": "Answer with just the number.",
    "choice": "Answer with one of the options, exactly as written.",
    "text": "Answer briefly.",
    "free": "",  # the task says what to write; the whole reply is the answer
}


@dataclass(frozen=True, slots=True)
class RoleProfile:
    """What a role is: its name, goal and standing instructions."""

    name: str
    goal: str = ""
    instructions: str = ""


def system_prompt(role: RoleProfile) -> str:
    """The system message for `role`."""
    parts = [f"You are the {role.name}."]
    if role.goal:
        parts.append(f"Your goal: {role.goal}")
    if role.instructions:
        parts.append(role.instructions)
    return " ".join(parts)


def user_prompt(task: Task) -> str:
    """The user message for `task`, listing the options of a multiple-choice question."""
    text = task.prompt.strip()
    if task.choices:
        text += "\nOptions: " + "; ".join(task.choices)
    hint = _ANSWER_HINTS[task.answer_type]
    return f"{text}\n{hint}" if hint else text


def build_messages(role: RoleProfile, task: Task) -> tuple[Message, ...]:
    """System and user messages for `role` answering `task`."""
    return (Message("system", system_prompt(role)), Message("user", user_prompt(task)))
