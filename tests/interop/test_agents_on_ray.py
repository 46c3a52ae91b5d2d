"""Roles that wrap a CrewAI Agent or an AutoGen AssistantAgent, on Ray actors."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from accord.crews.crew import Crew
from accord.crews.spec import RoleSpec, TaskSpec
from accord.errors import ConfigError
from tests.interop import agent_factories


def _crew(n: int = 2) -> Crew:
    return Crew(
        name="wrapped",
        roles=[RoleSpec(name="calculator")],
        tasks=[TaskSpec(id=f"q{i}", question="6 x 7?", answer_type="number") for i in range(n)],
    )


@pytest.mark.usefixtures("ray_cluster")
class TestOnRay:
    def test_a_crewai_agent_by_import_path_is_built_in_the_actor(self, tmp_path: Path) -> None:
        pytest.importorskip("crewai")
        crew = _crew()
        pool = crew.build_pool(
            "ray",
            backend="crewai-agent",
            backend_options={"agent": "tests.interop.agent_factories:make_crewai_calculator"},
        )
        try:
            import ray

            (handle,) = pool.handles("calculator")  # type: ignore[attr-defined]
            backstory = ray.get(handle.__ray_call__.remote(lambda a: a.backend.agent.backstory))
            assert "built in process" in backstory
            assert f"process {os.getpid()})" not in backstory  # not this (the driver) process
            result = crew.run(db=tmp_path / "l.duckdb", pool=pool)
        finally:
            pool.close()
        assert [d.answer for d in result.decisions] == ["42", "42"]
        assert result.tokens > 0

    def test_an_autogen_agent_factory_function_is_called_in_the_actor(self, tmp_path: Path) -> None:
        pytest.importorskip("autogen_agentchat")
        result = _crew(3).run(
            db=tmp_path / "l.duckdb",
            pool="ray",
            backend="autogen-agent",
            backend_options={"agent": agent_factories.make_autogen_calculator},
        )
        assert [d.answer for d in result.decisions] == ["42"] * 3
        assert len({d.prompt_tokens for d in result.decisions}) == 1  # reset between tasks

    def test_a_live_crewai_agent_on_ray_runs_or_is_a_config_error_naming_the_fix(
        self, tmp_path: Path
    ) -> None:
        from ray import cloudpickle

        pytest.importorskip("crewai")
        agent = agent_factories.make_crewai_calculator()
        try:  # CrewAI 1.6's agents hold locks and cannot be pickled; 1.15's can
            cloudpickle.dumps(agent)
        except TypeError:
            with pytest.raises(ConfigError) as info:
                _crew().run(
                    db=tmp_path / "l.duckdb",
                    pool="ray",
                    backend="crewai-agent",
                    backend_options={"agent": agent},
                )
            message = str(info.value)
            assert "cannot be sent to a Ray actor" in message and "cannot pickle" in message
            assert "package.module:name" in message and "pool='local'" in message
            return
        result = _crew().run(
            db=tmp_path / "l.duckdb",
            pool="ray",
            backend="crewai-agent",
            backend_options={"agent": agent},
        )
        assert [d.answer for d in result.decisions] == ["42", "42"] and result.tokens > 0


def test_the_agent_option_is_checked_when_the_role_starts() -> None:
    from accord.models.base import create_backend

    with pytest.raises(ConfigError, match="needs the `agent` option"):
        create_backend("crewai-agent")
    with pytest.raises(ConfigError, match="gave a str; expected: AutoGen AssistantAgent"):
        create_backend("autogen-agent", agent="tests.interop.agent_factories:not_an_agent")
    with pytest.raises(ConfigError, match="cannot import crewai-agent agent"):
        create_backend("crewai-agent", agent="tests.interop.agent_factories:missing")
