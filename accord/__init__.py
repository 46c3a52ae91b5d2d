"""accord: crews of role-based LLM agents that spend compute only where it buys accuracy."""

from accord.consensus.policy import BudgetSpec as Budget
from accord.consensus.policy import PolicySpec as Policy
from accord.consensus.records import Decision
from accord.crews.crew import Crew, CrewResult
from accord.crews.loader import load_crew
from accord.crews.sources import crew_sources as _crew_sources
from accord.crews.spec import CrewSpec, ModelSpec, RoleSpec, SourceSpec, TaskSpec
from accord.crews.spec import RoleSpec as Role
from accord.crews.spec import TaskSpec as Task
from accord.errors import AccordError, ConfigError, RunError
from accord.interop.plugin import register_crew_sources as _register_crew_sources
from accord.ledger.writer import Ledger

# CrewAI projects for Crew.from_path, added the way a plugin adds a format (the root may import
# every layer; accord.crews does not import accord.interop)
_register_crew_sources(_crew_sources)

__version__ = "0.1.0"

__all__ = [
    "AccordError",
    "Budget",
    "ConfigError",
    "Crew",
    "CrewResult",
    "CrewSpec",
    "Decision",
    "Ledger",
    "ModelSpec",
    "Policy",
    "Role",
    "RoleSpec",
    "RunError",
    "SourceSpec",
    "Task",
    "TaskSpec",
    "load_crew",
]
