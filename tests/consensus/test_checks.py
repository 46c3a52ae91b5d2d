"""The schema, predicate, any_of, code_tests and critic validators."""

from __future__ import annotations

import pytest
from pydantic import BaseModel

from accord.consensus.checks import AnyOf
from accord.consensus.critic import Critic, yes_probability
from accord.consensus.records import Task
from accord.consensus.validators import build_validator
from accord.errors import ConfigError, SandboxRefused
from accord.testing import Scripted, ScriptedBackend

TASK = Task(id="t", prompt="What is 2 + 2?")


class Person(BaseModel):
    name: str
    age: int


def is_even(answer: str) -> bool:
    return int(answer) % 2 == 0


def short(answer: str) -> tuple[bool, str]:
    return len(answer) < 4, f"{len(answer)} characters is too long"


def check(config: object, answer: str) -> tuple[bool, str]:
    verdict = build_validator(config).check(TASK, answer)  # type: ignore[arg-type]
    return verdict.ok, verdict.reason


def test_schema_with_a_pydantic_model() -> None:
    config = {"schema": f"{__name__}:Person"}
    assert check(config, '{"name": "Ada", "age": 36}') == (True, "")
    ok, reason = check(config, '{"name": "Ada", "age": "old"}')
    assert not ok and reason.startswith("age:")
    ok, reason = check(config, "Ada, 36")
    assert not ok and reason.startswith("not JSON")


def test_schema_with_required_keys_and_types() -> None:
    config = {"schema": {"name": "string", "age": "integer"}}
    assert check(config, '```json\n{"age": 3, "name": "x", "more": 1}\n```')[0]
    assert check(config, '{"name": "x"}') == (False, "missing key 'age'")
    assert check(config, '{"name": "x", "age": true}') == (
        False,
        "key 'age': expected int, got boolean",
    )
    assert check(config, "[1, 2]") == (False, "expected a JSON object")


def test_schema_config_errors() -> None:
    with pytest.raises(ConfigError, match="unknown type 'text'"):
        build_validator({"schema": {"name": "text"}})
    with pytest.raises(ConfigError, match="not a pydantic model"):
        build_validator({"schema": f"{__name__}:is_even"})
    with pytest.raises(ConfigError, match="cannot import"):
        build_validator({"schema": "no_such_module_x:Model"})


def test_predicate_bool_tuple_and_raise() -> None:
    assert check({"predicate": f"{__name__}:is_even"}, "4") == (True, "")
    assert check({"predicate": f"{__name__}:is_even"}, "5") == (
        False,
        f"{__name__}:is_even returned false",
    )
    assert check({"predicate": f"{__name__}:short"}, "seven") == (False, "5 characters is too long")
    ok, reason = check({"predicate": f"{__name__}:is_even"}, "four")
    assert not ok and reason.startswith("predicate raised ValueError")
    with pytest.raises(ConfigError, match="not an import path"):
        build_validator({"predicate": "is_even"})


def test_any_of_passes_when_one_part_passes() -> None:
    config = {"any_of": [{"regex": "[0-9]+"}, {"choices": ["four"]}]}
    assert check(config, "4")[0] and check(config, "four")[0]
    ok, reason = check(config, "five")
    assert not ok and reason.startswith("none passed: regex:") and "choices:" in reason
    with pytest.raises(ConfigError):
        AnyOf([])


def test_all_of_nests_inside_any_of() -> None:
    config = {"any_of": [{"all_of": ["nonempty", {"numeric": {"min": 10}}]}, {"regex": "x"}]}
    assert check(config, "12")[0] and check(config, "x")[0] and not check(config, "3")[0]


SOLUTION = "def add(a, b):\n    return a + b\n"
TESTS = "assert add(2, 3) == 5\n"
UNITTESTS = (
    "class T(unittest.TestCase):\n    def test_add(self):\n        self.assertEqual(add(1, 1), 2)\n"
)


@pytest.mark.parametrize("unsafe", [False, True])
def test_code_tests_pass_and_fail(unsafe: bool) -> None:
    from accord.sandbox import open_sandbox

    if not unsafe:
        try:
            open_sandbox()
        except SandboxRefused as exc:
            pytest.skip(f"no bubblewrap here: {exc}")
    config = {"code_tests": {"tests": TESTS, "unsafe_local": unsafe}}
    assert check(config, f"```python\n{SOLUTION}```") == (True, "")
    ok, reason = check(config, "def add(a, b):\n    return a - b\n")
    assert not ok and "AssertionError" in reason
    unit = {"code_tests": {"tests": UNITTESTS, "unsafe_local": unsafe}}
    assert check(unit, SOLUTION)[0]
    assert not check(unit, "def add(a, b):\n    return 3\n")[0]


def test_code_tests_refused_sandbox_is_a_failed_verdict(monkeypatch: pytest.MonkeyPatch) -> None:
    import accord.sandbox as sandbox

    def refuse(*args: object, **kwargs: object) -> None:
        raise SandboxRefused("bubblewrap", "user namespaces are disabled")

    monkeypatch.setattr(sandbox, "open_sandbox", refuse)
    ok, reason = check({"code_tests": {"tests": TESTS}}, SOLUTION)
    assert not ok and "tests not run" in reason and "user namespaces are disabled" in reason


def test_code_tests_config_errors(tmp_path) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ConfigError, match="exactly one"):
        build_validator("code_tests")
    with pytest.raises(ConfigError, match="cannot read"):
        build_validator({"code_tests": {"tests_file": str(tmp_path / "missing.py")}})


def test_critic_scores_yes_by_logprob() -> None:
    judge = ScriptedBackend(
        script={"Proposed answer: 4": Scripted("yes", 0.9)}, default=Scripted("no", 0.8)
    )
    critic = Critic(judge, threshold=0.5)
    verdict, score = critic.judge(TASK, "4")
    assert verdict.ok and score == pytest.approx(0.9)
    verdict, score = critic.judge(TASK, "5")
    assert not verdict.ok and score == pytest.approx(0.2) and "P(yes)=0.20" in verdict.reason
    assert yes_probability((-0.1, -0.1)) == pytest.approx(0.5)


def test_critic_by_backend_name() -> None:
    critic = build_validator(
        {"critic": {"backend": "scripted", "options": {"default": {"text": "yes", "prob": 0.7}}}}
    )
    assert critic.check(TASK, "4").ok
    with pytest.raises(ConfigError, match="unknown backend"):
        build_validator({"critic": {"backend": "nope"}})


def test_a_crew_tasks_validators_reach_the_coordinator(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from accord import Crew, Policy, Role
    from accord import Task as TaskSpec

    def script(request):  # type: ignore[no-untyped-def]
        return Scripted("not json", 0.99) if request.temperature == 0 else '{"n": 1}'

    crew = Crew(
        name="checked",
        roles=[Role(name="s", model="f")],
        models={"f": {"backend": "scripted", "options": {"script": script}}},
        tasks=[
            TaskSpec(id="j", question="json please", validators=[{"schema": {"n": "integer"}}]),
            TaskSpec(id="free", question="json too"),
        ],
        policy=Policy(kind="adaptive", threshold=0.5, k=3),
    )
    result = crew.run(db=tmp_path / "l.duckdb", pool="local")
    first = result["j"].attempts[0]
    assert not first.verdict.ok and first.verdict.reason.startswith("schema: not JSON")
    assert result["j"].path == "escalated" and result["j"].answer == '{"n": 1}'
    assert result["free"].path == "single" and result["free"].answer == "not json"
    with pytest.raises(ConfigError, match="unknown validator"):
        Crew(
            name="bad",
            roles=[Role(name="s", model="f")],
            models={"f": {"backend": "scripted"}},
            tasks=[TaskSpec(id="x", question="q", validators=["nope"])],
        ).run(db=tmp_path / "m.duckdb", pool="local")


def test_the_readme_validators_example_builds_and_checks() -> None:
    import yaml

    from tests.conftest import ROOT

    text = (ROOT / "README.md").read_text()
    block = text.split("```yaml\n    validators:\n", 1)[1].split("```", 1)[0]
    configs = yaml.safe_load("validators:\n" + block)["validators"]
    built = [build_validator(c) for c in configs]
    assert all(v.check(TASK, '{"name": "a", "age": 3}').ok for v in built)
    assert not built[0].check(TASK, '{"name": "a"}').ok
