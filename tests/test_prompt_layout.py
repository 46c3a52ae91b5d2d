"""Message layout: a long task goes before the role, so voters of any role share a prefix."""

from __future__ import annotations

from accord.consensus.records import Task
from accord.roles.prompt import SHARED_FIRST_CHARS, RoleProfile, build_messages

ROLES = (RoleProfile("solver", goal="be right"), RoleProfile("skeptic", instructions="Doubt."))


def _flat(messages) -> str:
    return "".join(f"<{m.role}>{m.content}" for m in messages)


def _shared_prefix(a: str, b: str) -> int:
    n = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        n += 1
    return n


def test_a_long_task_comes_first_and_voters_of_any_role_share_it() -> None:
    document = "The report says the budget grew by four percent. " * 60
    task = Task(id="t", prompt=document + "\nBy how much did it grow?", answer_type="number")
    assert len(task.prompt) >= SHARED_FIRST_CHARS
    a, b = (_flat(build_messages(role, task)) for role in ROLES)
    assert _shared_prefix(a, b) > len(task.prompt)
    for role, flat in zip(ROLES, (a, b), strict=True):
        assert f"You are the {role.name}." in flat.split(document)[-1]
        assert flat.endswith("Answer with just the number.")


def test_a_short_task_keeps_the_role_in_the_system_message() -> None:
    task = Task(id="t", prompt="What is 2 plus 2?", answer_type="number")
    system, user = build_messages(ROLES[0], task)
    assert system.content == "You are the solver. Your goal: be right"
    assert user.content == "What is 2 plus 2?\nAnswer with just the number."
