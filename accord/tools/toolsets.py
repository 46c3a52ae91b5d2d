"""Toolsets by name, so a crew file can say `toolset: shop`."""

from __future__ import annotations

from typing import Any

from accord.registry import Registry
from accord.tools.base import ToolSet

toolsets: Registry[ToolSet] = Registry("toolset")


@toolsets.register("shop")
def _shop(**options: Any) -> ToolSet:
    from accord.tools.shop import shop_tools

    return shop_tools(**options)


def create_toolset(name: str, /, **options: Any) -> ToolSet:
    """Build the toolset registered as `name`."""
    return toolsets.create(name, **options)
