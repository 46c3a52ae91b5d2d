"""A registry of named factories: the one way extension points are looked up by name."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Generic, TypeVar

from accord.errors import UnknownNameError

T = TypeVar("T")


class Registry(Generic[T]):
    """Maps names to factories of one kind of thing (backends, validators, rules, ...)."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._items: dict[str, Callable[..., T]] = {}

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
        try:
            return self._items[name]
        except KeyError:
            raise UnknownNameError(self.kind, name, self._items) from None

    def create(self, name: str, /, **options: object) -> T:
        """Build the thing registered under `name` with `options`."""
        return self.get(name)(**options)

    def names(self) -> list[str]:
        """Registered names, sorted."""
        return sorted(self._items)

    def __contains__(self, name: object) -> bool:
        return name in self._items

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())
