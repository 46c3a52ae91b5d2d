"""Planning: goals become validated plans; execution is monitored and replanned when it fails."""

from accord.planning.monitor import GoalResult, Monitor, StepRun
from accord.planning.plan import Plan, PlanStep, parse_plan
from accord.planning.planner import Planner, PlanningResult, PlanRequest
from accord.planning.validator import DoneStep, PlanValidator, Problem

__all__ = [
    "DoneStep",
    "GoalResult",
    "Monitor",
    "Plan",
    "PlanRequest",
    "PlanStep",
    "PlanValidator",
    "Planner",
    "PlanningResult",
    "Problem",
    "StepRun",
    "parse_plan",
]
