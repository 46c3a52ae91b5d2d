"""Shared fixtures: one local Ray cluster for the session, scripted crews, temp ledgers."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
os.environ.setdefault("CREWAI_TELEMETRY_OPT_OUT", "true")
os.environ.setdefault("OTEL_SDK_DISABLED", "true")
# the audit key of every run the tests make (inherited by the CLI in subprocesses), not ~/.config
os.environ.setdefault(
    "ACCORD_AUDIT_KEY_FILE",
    os.path.join(tempfile.mkdtemp(prefix="accord-test-audit-"), "audit.key"),
)

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def ray_cluster() -> Iterator[None]:
    """A local Ray with a pinned CPU count, shared by every test that needs real actors."""
    import ray

    if not ray.is_initialized():
        ray.init(
            num_cpus=2,
            include_dashboard=False,
            logging_level="ERROR",
            log_to_driver=False,
            ignore_reinit_error=True,
        )
    yield
    ray.shutdown()


@pytest.fixture
def ledger_path(tmp_path: Path) -> Path:
    """A fresh DuckDB ledger file path."""
    return tmp_path / "ledger.duckdb"
