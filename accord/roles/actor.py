"""The one place RoleAgent becomes a Ray actor."""

from __future__ import annotations

from functools import cache
from typing import Any


@cache
def role_actor_class() -> Any:
    """`RoleActor`: RoleAgent wrapped as a Ray actor class (built once, on first use)."""
    import ray

    from accord.roles.agent import RoleAgent

    return ray.remote(RoleAgent)


def ensure_ray(address: str | None = None, *, num_cpus: int | None = None) -> None:
    """Start a local Ray (or join `address` / RAY_ADDRESS) unless one is running."""
    import os

    import ray

    if ray.is_initialized():
        return
    address = address or os.environ.get("RAY_ADDRESS")
    options: dict[str, Any] = {
        "ignore_reinit_error": True,
        "logging_level": "ERROR",
        "log_to_driver": False,
        "include_dashboard": False,
    }
    if address:
        ray.init(address=address, **options)
    else:
        ray.init(num_cpus=num_cpus, **options)
