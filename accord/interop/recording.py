"""Recording calls that other frameworks make through accord into accord's ledger.

Each call becomes a one-attempt decision (policy `external`, path `single`) in a run of its
own, so `accord ledger` and SQL over the ledger see CrewAI and AutoGen costs next to accord's.
"""

from __future__ import annotations

import itertools
import threading
from contextlib import ExitStack
from pathlib import Path

from accord.consensus.records import Attempt, Decision
from accord.ledger.writer import Ledger, RunLog
from accord.models.base import Completion, CompletionRequest


class CallRecorder:
    """Writes every completion it is shown to the ledger, under one run id."""

    def __init__(
        self,
        ledger: Ledger | str | Path,
        *,
        crew: str = "external",
        source: str = "interop",
        role: str = "agent",
    ) -> None:
        self.ledger = ledger if isinstance(ledger, Ledger) else Ledger(ledger)
        self.crew = crew
        self.source = source
        self.role = role
        self.run_id: str | None = None
        self._run = ExitStack()  # the run, from the first call to close()
        self._log: RunLog | None = None
        self._count = itertools.count(1)
        self._lock = threading.Lock()

    def _open(self) -> RunLog:
        with self._lock:
            if self._log is None:
                run = self.ledger.run(self.crew, source=self.source, policy="external")
                self._log = self._run.enter_context(run)
                self.run_id = self._log.id
            return self._log

    def record(
        self,
        request: CompletionRequest,
        completion: Completion,
        *,
        role: str | None = None,
        task_id: str | None = None,
    ) -> Decision:
        """Append `completion` (the answer to `request`) as a one-attempt decision."""
        log = self._open()
        task_id = task_id or f"call-{next(self._count):05d}"
        usage = completion.usage
        lps = completion.token_logprobs
        attempt = Attempt(
            task_id=task_id,
            role=role or self.role,
            model=usage.model,
            answer=completion.text,
            raw=completion.text,
            prompt_tokens=usage.prompt_tokens,
            completion_tokens=usage.completion_tokens,
            model_ms=usage.wall_ms,
            seed=request.seed or 0,
            temperature=request.temperature,
            mean_logprob=sum(lps) / len(lps) if lps else None,
            min_logprob=min(lps) if lps else None,
        )
        decision = Decision(
            task_id=task_id,
            answer=completion.text,
            confidence=0.0,
            path="single",
            stop_reason="external call",
            status="accepted",
            policy="external",
            attempts=(attempt,),
            wall_ms=usage.wall_ms,
        )
        log.record(decision)
        return decision

    def close(self, status: str = "finished") -> None:
        """End the run (with `status`) and flush the ledger."""
        if self._log is not None:
            self._log.status = status
            self._run.close()
        else:
            self.ledger.flush()
