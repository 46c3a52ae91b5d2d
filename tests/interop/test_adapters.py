"""Adapters both ways, with the real crewai and autogen packages."""

from __future__ import annotations

import asyncio
from pathlib import Path

import duckdb
import pytest

from accord.consensus.records import Task
from accord.crews.crew import Crew
from accord.crews.spec import RoleSpec, TaskSpec
from accord.models.base import CompletionRequest
from accord.models.scripted import ScriptedBackend
from accord.roles.agent import RoleAgent
from accord.roles.prompt import RoleProfile

REPLY = "Thought: I now know the final answer\nFinal Answer: 42"


def scripted() -> ScriptedBackend:
    return ScriptedBackend(default=REPLY, model="scripted-42")


def ledger_rows(path: Path) -> list[tuple]:
    with duckdb.connect(str(path), read_only=True) as con:
        return con.execute(
            "SELECT r.crew, r.policy, a.role, a.model, a.prompt_tokens, a.completion_tokens "
            "FROM attempts a JOIN runs r USING (run_id) ORDER BY a.task_id"
        ).fetchall()


def test_missing_extra_names_the_pip_command(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    from accord.errors import ConfigError
    from accord.interop._common import require

    monkeypatch.setitem(sys.modules, "crewai", None)  # as if it were not installed
    with pytest.raises(ConfigError) as info:
        require("crewai")
    assert info.value.hint == "pip install 'accord[crewai]'"


def test_core_does_not_import_the_frameworks() -> None:
    import subprocess
    import sys

    code = (
        "import sys, accord, accord.cli.app, accord.interop.crewai_import, "
        "accord.interop.crewai_llm, accord.interop.autogen_client, accord.interop.agents; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in "
        "('crewai', 'autogen_core', 'autogen_agentchat')))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
    )
    assert out.stdout.strip() == "[]"


class TestCrewAI:
    @pytest.fixture(autouse=True)
    def _crewai(self) -> None:
        self.crewai = pytest.importorskip("crewai", reason="pip install 'accord[crewai]'")

    def _agent(self, llm: object) -> object:
        return self.crewai.Agent(
            role="Calculator",
            goal="Answer arithmetic",
            backstory="You compute.",
            llm=llm,
            verbose=False,
            allow_delegation=False,
        )

    def test_accord_backend_runs_a_crewai_crew_and_logs_to_the_ledger(self, tmp_path: Path) -> None:
        from accord.interop.crewai_llm import crewai_llm

        db = tmp_path / "ledger.duckdb"
        llm = crewai_llm(scripted(), ledger=db, crew="calc-crew")
        assert isinstance(llm, self.crewai.BaseLLM)
        agent = self._agent(llm)
        task = self.crewai.Task(
            description="What is 6 times 7?", expected_output="a number", agent=agent
        )
        crew = self.crewai.Crew(
            agents=[agent], tasks=[task], process=self.crewai.Process.sequential, verbose=False
        )
        result = crew.kickoff()
        assert result.raw.strip() == "42"
        assert llm.calls == 1
        llm.recorder.close()
        rows = ledger_rows(db)
        assert len(rows) == 1
        crew_name, policy, role, model, prompt, completion = rows[0]
        assert (crew_name, policy, role, model) == (
            "calc-crew",
            "external",
            "Calculator",
            "scripted-42",
        )
        assert prompt > 20 and completion > 0
        assert crew.usage_metrics.prompt_tokens == prompt

    def test_crewai_agent_as_an_accord_role(self, tmp_path: Path) -> None:
        from accord.interop.agents import CrewAIAgentBackend
        from accord.interop.crewai_llm import crewai_llm

        backend = CrewAIAgentBackend(agent=self._agent(crewai_llm(scripted())))
        assert backend.profile() == RoleProfile("calculator", "Answer arithmetic", "You compute.")
        attempt = RoleAgent(backend.profile(), backend).attempt(
            Task(id="t1", prompt="What is 6 times 7?", answer_type="number")
        )
        assert attempt.answer == "42" and attempt.prompt_tokens > 20
        crew = Crew(
            name="wrapped",
            roles=[RoleSpec(name="calculator")],
            tasks=[TaskSpec(id="q", question="6 x 7?", answer_type="number")],
        )
        result = crew.run(
            db=tmp_path / "l.duckdb",
            pool="local",
            backend="crewai-agent",
            backend_options={"agent": backend.agent},
        )
        assert result["q"].answer == "42" and result.tokens > 0
        choice = backend.score((), ("41", "42"))
        assert choice.logprobs[1] > choice.logprobs[0]


class TestAutoGen:
    @pytest.fixture(autouse=True)
    def _autogen(self) -> None:
        self.agentchat = pytest.importorskip(
            "autogen_agentchat.agents", reason="pip install 'accord[autogen]'"
        )

    def test_accord_backend_as_an_autogen_model_client(self, tmp_path: Path) -> None:
        from autogen_core.models import ChatCompletionClient, SystemMessage, UserMessage

        from accord.interop.autogen_client import autogen_client

        db = tmp_path / "ledger.duckdb"
        client = autogen_client(scripted(), ledger=db, crew="autogen-run")
        assert isinstance(client, ChatCompletionClient)
        result = asyncio.run(
            client.create(
                [SystemMessage(content="Be brief."), UserMessage(content="6 x 7?", source="user")]
            )
        )
        assert result.content == REPLY and result.usage.prompt_tokens == 5  # words
        agent = self.agentchat.AssistantAgent("helper", model_client=client)
        run = asyncio.run(agent.run(task="What is 6 times 7?"))
        assert run.messages[-1].content == REPLY
        assert client.total_usage().prompt_tokens > 5
        asyncio.run(client.close())
        rows = ledger_rows(db)
        assert len(rows) == 2 and {r[0] for r in rows} == {"autogen-run"}

    def test_autogen_agent_as_an_accord_role(self, tmp_path: Path) -> None:
        from accord.interop.agents import AutoGenAgentBackend
        from accord.interop.autogen_client import autogen_client

        agent = self.agentchat.AssistantAgent(
            "calculator", model_client=autogen_client(scripted()), description="Answers arithmetic"
        )
        backend = AutoGenAgentBackend(agent=agent)
        assert backend.profile() == RoleProfile("calculator", "Answers arithmetic")
        out = backend.complete(CompletionRequest(messages=()))
        assert out.text == REPLY and out.usage.prompt_tokens > 0
        crew = Crew(
            name="wrapped",
            roles=[RoleSpec(name="calculator")],
            tasks=[TaskSpec(id=f"q{i}", question="6 x 7?", answer_type="number") for i in range(3)],
        )
        result = crew.run(
            db=tmp_path / "l.duckdb",
            pool="local",
            backend="autogen-agent",
            backend_options={"agent": agent},
        )
        assert [d.answer for d in result.decisions] == ["42"] * 3
        # reset between tasks: every task's prompt is the same size
        assert len({d.prompt_tokens for d in result.decisions}) == 1
