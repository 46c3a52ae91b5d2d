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


def test_a_registered_crew_format_is_what_crew_from_path_reads(tmp_path: Path) -> None:
    from accord import Crew
    from accord.crews.loader import load_crew
    from accord.crews.sources import ImportedCrew, crew_sources

    demo = Path(__file__).parent.parent / "configs" / "demo.yaml"

    def toy(*, path: str | Path, inputs: object = None) -> ImportedCrew | None:
        if Path(path).suffix != ".toy":
            return None  # not this format: the next one (or accord's YAML) reads it
        spec = load_crew(demo).model_copy(update={"name": "from-toy"})
        return ImportedCrew(spec, ("toy format",), str(path), Path(path).parent)

    crew_sources.add("toy", toy)
    (tmp_path / "crew.toy").write_text("anything")
    crew = Crew.from_path(tmp_path / "crew.toy")
    assert crew.spec.name == "from-toy"
    assert crew.warnings[0] == "toy format"
    assert "crewai" in crew_sources  # accord's own CrewAI import, registered the same way
    assert Crew.from_path(demo).spec.name == load_crew(demo).name
