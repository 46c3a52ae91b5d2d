"""Ray for accord: how a local Ray starts, and role actors kept warm between runs.

Starting a role actor costs a worker process (about a second on a loaded machine); a process
that runs crews again and again (a notebook, a service, a benchmark) should pay it once. A
`RayPool` given an `ActorCache` takes idle actors of the same role, backend and options from it
and gives them back when it closes, instead of killing them. `Crew.run(pool="ray")` uses the
current cache: the innermost `with ActorCache():` block (its actors are killed when the block
ends), else one cache for the whole process, emptied at exit.
"""

from __future__ import annotations

import atexit
import json
import os
import threading
from collections.abc import Hashable, Mapping
from typing import Any

from accord.roles.prompt import RoleProfile

__all__ = ["ActorCache", "actor_key", "current_actor_cache", "local_start_options"]

# A crew's messages are small (tasks, answers, log-probs); Ray's default object store takes
# 30% of the machine's memory. 128 MB holds thousands of attempts; larger objects spill to disk.
OBJECT_STORE_BYTES = 128 * 1024 * 1024
# Role actors ask for 0 CPUs, so CPUs only bound Ray tasks and how many idle workers Ray
# starts ahead; a few are enough for a crew, more cost a Python process each.
MAX_LOCAL_CPUS = 4


def local_start_options(num_cpus: int | None = None) -> dict[str, Any]:
    """`ray.init` keywords for a local Ray sized for a crew: no dashboard, a small object
    store, `num_cpus` (default: the machine's, at most MAX_LOCAL_CPUS), quiet logs."""
    return {
        "num_cpus": num_cpus or min(os.cpu_count() or 1, MAX_LOCAL_CPUS),
        "object_store_memory": OBJECT_STORE_BYTES,
        **quiet_options(),
    }


def quiet_options() -> dict[str, Any]:
    """`ray.init` keywords for any Ray, local or joined: no dashboard, errors-only logs."""
    return {
        "ignore_reinit_error": True,
        "logging_level": "ERROR",
        "log_to_driver": False,
        "include_dashboard": False,
    }


def actor_key(
    role: RoleProfile, backend: str, options: Mapping[str, object], *extra: Hashable
) -> Hashable | None:
    """What makes two role actors interchangeable: role, backend and options (plus `extra`,
    e.g. actor settings). None when the options are not plain data (a live object): such
    actors are never shared."""
    try:
        encoded = json.dumps(dict(options), sort_keys=True)
    except (TypeError, ValueError):
        return None
    return (role, backend, encoded, *extra)


def _ray_session() -> str | None:
    """The Ray this process is connected to (None: none); actors do not outlive it."""
    import ray

    if not ray.is_initialized():
        return None
    context = ray.get_runtime_context()
    return f"{context.gcs_address}/{context.get_node_id()}"


class ActorCache:
    """Idle role actors by `actor_key`, for pools to take and give back.

    As a context manager it is the current cache inside the block, and kills its actors at
    the end. Actors of a Ray that has since shut down are dropped, not reused.
    """

    def __init__(self) -> None:
        self._idle: dict[Hashable, list[Any]] = {}
        self._session: str | None = None
        self._closed = False
        self._lock = threading.Lock()

    def take(self, key: Hashable | None) -> Any | None:
        """An idle actor for `key`, now the caller's; None when there is none."""
        if key is None:
            return None
        with self._lock:
            if self._session != _ray_session():
                self._idle.clear()
                return None
            handles = self._idle.get(key)
            return handles.pop(0) if handles else None

    def give_back(self, key: Hashable | None, handle: Any) -> None:
        """Keep `handle` idle for the next pool that needs `key` (killed when closed)."""
        with self._lock:
            keep = key is not None and not self._closed
            if keep:
                session = _ray_session()
                if self._session != session:
                    self._idle.clear()
                    self._session = session
                self._idle.setdefault(key, []).append(handle)
        if not keep:
            _kill(handle)

    def actors(self) -> list[Any]:
        """The idle actors' handles, in the order they were given back."""
        with self._lock:
            return [h for handles in self._idle.values() for h in handles]

    def close(self) -> None:
        """Kill the idle actors; actors given back later are killed at once."""
        with self._lock:
            self._closed = True
            handles = [h for hs in self._idle.values() for h in hs]
            self._idle.clear()
            alive = self._session is not None and self._session == _ray_session()
        if alive:
            for handle in handles:
                _kill(handle)

    @property
    def closed(self) -> bool:
        """True once `close` ran."""
        return self._closed

    def __enter__(self) -> ActorCache:
        with _current_lock:
            _stack.append(self)
        return self

    def __exit__(self, *exc: object) -> None:
        with _current_lock:
            if self in _stack:
                _stack.remove(self)
        self.close()


def _kill(handle: Any) -> None:
    import ray

    if ray.is_initialized():
        ray.kill(handle)


_stack: list[ActorCache] = []
_process_cache: list[ActorCache] = []
_current_lock = threading.Lock()


def current_actor_cache() -> ActorCache:
    """The innermost `with ActorCache():` block's cache, else the process's own (its actors
    are killed at exit; `current_actor_cache().close()` kills them sooner)."""
    with _current_lock:
        if _stack:
            return _stack[-1]
        if not _process_cache or _process_cache[0].closed:
            cache = ActorCache()
            if not _process_cache:
                atexit.register(lambda: _process_cache[0].close())
            _process_cache[:] = [cache]
        return _process_cache[0]
