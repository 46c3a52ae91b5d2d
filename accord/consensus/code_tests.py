"""The `code_tests` validator: the answer is Python code; given unit tests run on it, sandboxed."""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING

from accord.consensus.records import Task, Verdict
from accord.consensus.validators import validators
from accord.errors import ConfigError, SandboxRefused

if TYPE_CHECKING:
    from accord.sandbox import Limits

# Runs in the sandbox: the answer is solution.py, the tests are exec'd with its names in scope;
# bare asserts fail the run, and unittest.TestCase classes the tests define are run too.
RUNNER = """\
import sys, unittest
sys.path.insert(0, ".")
from solution import *
exec(compile(open("tests.py").read(), "tests.py", "exec"))
suite = unittest.defaultTestLoader.loadTestsFromModule(sys.modules["__main__"])
if suite.countTestCases():
    result = unittest.TextTestRunner(stream=sys.stderr, verbosity=0).run(suite)
    sys.exit(0 if result.wasSuccessful() else 1)
"""

FENCE = re.compile(r"```(?:python|py)?\s*\n(.*?)```", re.DOTALL)


def extract_code(answer: str) -> str:
    """The code in a fenced block of the answer, or the whole answer."""
    found = FENCE.search(answer)
    return found.group(1) if found else answer


@validators.register("code_tests")
class CodeTests:
    """Passes when the tests (`tests` source or `tests_file`) pass against the answer's code.

    Runs in the bubblewrap sandbox; when it cannot isolate, the verdict fails with the refusal's
    reason. `unsafe_local: true` opts in to running on the host (limits and timeout still apply).
    """

    name = "code_tests"

    def __init__(
        self,
        tests: str | None = None,
        tests_file: str | None = None,
        *,
        unsafe_local: bool = False,
        sandbox: str = "bubblewrap",
        timeout: float = 20.0,
    ) -> None:
        if (tests is None) == (tests_file is None):
            raise ConfigError("code_tests needs exactly one of `tests` or `tests_file`")
        if tests_file is not None:
            try:
                tests = Path(tests_file).read_text()
            except OSError as exc:
                raise ConfigError(
                    f"cannot read tests_file: {exc.strerror}", path=tests_file
                ) from None
        self.tests: str = tests or ""
        self.unsafe_local = unsafe_local
        self.sandbox = sandbox
        self.timeout = timeout
        self.limits = limits_for(timeout)  # checked now: an inf or nan timeout is a ConfigError

    def check(self, task: Task, answer: str) -> Verdict:
        """Run the tests against the answer's code in the sandbox."""
        from accord.sandbox import open_sandbox

        files = {"solution.py": extract_code(answer), "tests.py": self.tests}
        try:
            box = open_sandbox(self.sandbox, unsafe_local=self.unsafe_local)
            result = box.run(python_code=RUNNER, files=files, limits=self.limits)
        except SandboxRefused as exc:
            return Verdict(False, f"tests not run: {exc}")
        if result.ok:
            return Verdict(True)
        if result.limit_hit is not None:
            return Verdict(False, f"tests hit the {result.limit_hit} limit")
        tail = result.stderr.decode("utf-8", "replace").strip().splitlines()[-3:]
        return Verdict(False, f"tests failed (exit {result.exit_code}): {' | '.join(tail)}"[:400])


def limits_for(timeout: float) -> Limits:
    """The sandbox limits of a `code_tests` run; a timeout out of range is a ConfigError."""
    from accord.sandbox import Limits

    try:
        return Limits(wall_seconds=timeout)
    except ConfigError as exc:
        raise ConfigError(f"code_tests timeout: {exc.message}", hint=exc.hint) from None
