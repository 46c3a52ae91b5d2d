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
    """Start a local Ray sized for a crew (`ray_runtime.local_start_options`), or join
    `address` / RAY_ADDRESS, unless one is running."""
    import os

    import ray

    if ray.is_initialized():
        return
    source = "--address" if address else "RAY_ADDRESS"
    address = address or os.environ.get("RAY_ADDRESS")
    if address:
        check_reachable(address, source=source)
    from accord.roles.ray_runtime import local_start_options, quiet_options

    try:
        if address:
            ray.init(address=address, **quiet_options())
        else:
            # "local": a new Ray of our own, even where a `ray start` (or a stale
            # /tmp/ray/ray_current_cluster file) would make a bare ray.init() join it
            ray.init(address="local", **local_start_options(num_cpus))
    except Exception as exc:  # Ray raises bare Exceptions (a start-up timeout on a busy machine)
        from accord.errors import RunError

        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise RunError(
            f"Ray did not start: {first} (run again, or run without Ray: --pool local)"
        ) from exc


RAY_PORTS = {"ray": 10001, "": 6379}  # Ray Client's port for ray://, else the GCS port


def check_reachable(address: str, *, source: str = "--address", timeout_s: float = 3.0) -> None:
    """Refuse at once a cluster address nothing listens on (Ray itself retries for minutes,
    logging each try). `auto` and `local` are left to Ray."""
    import socket

    from accord.errors import ConfigError

    if address in ("auto", "local"):
        return
    scheme, _, rest = address.rpartition("://")
    host, _, port = rest.rpartition(":") if ":" in rest else (rest, "", "")
    try:
        target = (host or rest, int(port) if port else RAY_PORTS.get(scheme, 6379))
        socket.create_connection(target, timeout=timeout_s).close()
    except (OSError, ValueError) as exc:
        raise ConfigError(
            f"cannot reach the Ray cluster at {address!r}: {exc}",
            path=source,
            hint="start it (`ray start --head`), fix --address / RAY_ADDRESS, "
            "or run without Ray (--pool local)",
        ) from None
