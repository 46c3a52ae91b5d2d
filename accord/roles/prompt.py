"""Prompt building: a role and a task become chat messages.

Short tasks: the role in the system message, the task in the user message. A long task
(`SHARED_FIRST_CHARS` characters or more: a document, a dependency's output) comes first
instead, after a system message that is the same for every role, and the role's part after
it, so that the voters of one decision, whatever their role, send the same long prefix and a
server's prefix cache (billed at the cached-input price) serves it to all but the first.
Instructions after a long context is also the usual advice for long prompts; short prompts,
where a cache saves little, keep the layout the measured results were made with.
"""

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
# a task prompt this long goes before the role's part (about 500 tokens)
SHARED_FIRST_CHARS = 2000
SHARED_SYSTEM = "You answer the task below in the role described after it."


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


def _question(task: Task) -> str:
    text = task.prompt.strip()
    if task.choices:
        text += "\nOptions: " + "; ".join(task.choices)
    return text


def user_prompt(task: Task) -> str:
    """The user message for `task`, listing the options of a multiple-choice question."""
    hint = _ANSWER_HINTS[task.answer_type]
    return f"{_question(task)}\n{hint}" if hint else _question(task)


def build_messages(role: RoleProfile, task: Task) -> tuple[Message, ...]:
    """System and user messages for `role` answering `task` (see the module doc)."""
    if len(task.prompt) >= SHARED_FIRST_CHARS:
        hint = _ANSWER_HINTS[task.answer_type]
        tail = f"{system_prompt(role)}\n{hint}" if hint else system_prompt(role)
        return (Message("system", SHARED_SYSTEM), Message("user", f"{_question(task)}\n\n{tail}"))
    return (Message("system", system_prompt(role)), Message("user", user_prompt(task)))
