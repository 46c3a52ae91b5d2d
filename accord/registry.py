"""A registry of named factories: the one way extension points are looked up by name."""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterator
from importlib.metadata import entry_points
from typing import Generic, TypeVar

from accord.errors import UnknownNameError

T = TypeVar("T")


class Registry(Generic[T]):
    """Maps names to factories of one kind of thing (backends, validators, rules, ...).

    A registry with a `plugins` entry-point group also takes what installed packages declare
    there: each entry point names a function `register(registry)` that adds its factories, the
    way accord's own interop backends are added (`[project.entry-points."accord.backends"]`).
    Plugins are loaded once, the first time a name is missing or the names are listed.
    """

    def __init__(self, kind: str, *, plugins: str | None = None) -> None:
        self.kind = kind
        self._items: dict[str, Callable[..., T]] = {}
        self._plugins = plugins
        self._plugins_loaded = plugins is None

    def register(self, name: str) -> Callable[[Callable[..., T]], Callable[..., T]]:
        """Decorator: register a factory (usually a class) under `name`."""

        def deco(factory: Callable[..., T]) -> Callable[..., T]:
            self._items[name] = factory
            return factory

        return deco

    def add(self, name: str, factory: Callable[..., T]) -> None:
        """Register `factory` under `name` (replacing any earlier one)."""
        self._items[name] = factory

    def get(self, name: str) -> Callable[..., T]:
        """The factory for `name`; an unknown name lists the known ones."""
        if name not in self._items:
            self.load_plugins()
        try:
            return self._items[name]
        except KeyError:
            raise UnknownNameError(self.kind, name, self._items) from None

    def create(self, name: str, /, **options: object) -> T:
        """Build the thing registered under `name` with `options`."""
        return self.get(name)(**options)

    def names(self) -> list[str]:
        """Registered names (plugins' included), sorted."""
        self.load_plugins()
        return sorted(self._items)

    def load_plugins(self) -> None:
        """Let every installed plugin of this registry's entry-point group register (once).

        A plugin that fails to load is reported as a warning and skipped, so one broken
        package does not take the others down with it.
        """
        if self._plugins_loaded:
            return
        self._plugins_loaded = True
        for point in entry_points(group=self._plugins or ""):
            try:
                point.load()(self)
            except Exception as exc:  # a third party's code: any error is possible
                warnings.warn(
                    f"accord: the {self.kind} plugin {point.name!r} ({point.value}) failed to"
                    f" load and was skipped: {exc}",
                    stacklevel=2,
                )

    def __contains__(self, name: object) -> bool:
        if name not in self._items:
            self.load_plugins()
        return name in self._items

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())
