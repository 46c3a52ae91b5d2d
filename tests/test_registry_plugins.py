"""Plugins register through entry points, the way accord's own interop backends do."""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import pytest

from accord.errors import UnknownNameError
from accord.models import backends
from accord.registry import Registry


def _install_plugin(root: Path, group: str, body: str, *, name: str = "demo") -> None:
    """A distribution on `root` (added to sys.path) declaring one entry point in `group`."""
    module = f"accord_test_plugin_{name}"
    (root / f"{module}.py").write_text(textwrap.dedent(body))
    info = root / f"{module}-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {module}\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(f"[{group}]\n{name} = {module}:register\n")


@pytest.fixture
def plugin_path(tmp_path: Path):
    sys.path.insert(0, str(tmp_path))
    yield tmp_path
    sys.path.remove(str(tmp_path))


def test_a_plugin_registers_its_factories_on_first_lookup(plugin_path: Path) -> None:
    body = """
        def register(registry):
            registry.add("echo", lambda **options: ("echo", options))
    """
    _install_plugin(plugin_path, "accord.test_things", body)
    things: Registry[object] = Registry("thing", plugins="accord.test_things")
    assert things.create("echo", x=1) == ("echo", {"x": 1})
    assert "echo" in things.names()


def test_a_broken_plugin_is_skipped_with_a_warning(plugin_path: Path) -> None:
    _install_plugin(
        plugin_path, "accord.test_broken", "raise ImportError('no such lib')\n", name="broken"
    )
    things: Registry[object] = Registry("thing", plugins="accord.test_broken")
    things.add("kept", lambda: "kept")
    with pytest.warns(UserWarning, match="failed to load"):
        assert things.names() == ["kept"]
    with pytest.raises(UnknownNameError):
        things.get("broken")


def test_interop_backends_come_from_accords_own_entry_point() -> None:
    """The CrewAI and AutoGen agent backends are not built in: the `accord.backends` entry
    point of the installed package adds them, as a third-party plugin would."""
    from importlib.metadata import entry_points

    declared = {p.name: p.value for p in entry_points(group="accord.backends")}
    assert declared.get("interop") == "accord.interop.plugin:register_backends"
    assert {"crewai-agent", "autogen-agent"} <= set(backends.names())
