"""Functions that build framework agents where a role runs (in a Ray actor, for the tests)."""

from __future__ import annotations

import os
from typing import Any

from accord.models.scripted import ScriptedBackend

REPLY = "Thought: I now know the final answer\nFinal Answer: 42"


def _scripted() -> ScriptedBackend:
    return ScriptedBackend(default=REPLY, model="scripted-42")


def make_crewai_calculator() -> Any:
    """A CrewAI Agent on a scripted LLM, built in the calling process; records its pid."""
    from crewai import Agent

    from accord.interop.crewai_llm import crewai_llm

    return Agent(
        role="Calculator",
        goal="Answer arithmetic",
        backstory=f"You compute. (built in process {os.getpid()})",
        llm=crewai_llm(_scripted()),
        verbose=False,
        allow_delegation=False,
    )


def make_autogen_calculator() -> Any:
    """An AutoGen AssistantAgent on a scripted model client."""
    from autogen_agentchat.agents import AssistantAgent

    from accord.interop.autogen_client import autogen_client

    return AssistantAgent(
        "calculator",
        model_client=autogen_client(_scripted()),
        description=f"Answers arithmetic (built in process {os.getpid()})",
    )


def not_an_agent() -> str:
    return "a string"
