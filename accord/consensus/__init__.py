"""Consensus: validators, confidence, voting, stopping rules, policies and the coordinator."""

from accord.consensus import checks, code_tests, critic  # noqa: F401  (register validators)
from accord.consensus.confidence import ConfidenceEstimator, estimators
from accord.consensus.coordinator import Coordinator
from accord.consensus.policy import BudgetSpec, PolicySpec
from accord.consensus.records import Attempt, Decision, Task, Verdict
from accord.consensus.stopping import StoppingRule, stopping_rules
from accord.consensus.validators import Validator, build_validator, validators
from accord.consensus.voting import Tally

__all__ = [
    "Attempt",
    "BudgetSpec",
    "ConfidenceEstimator",
    "Coordinator",
    "Decision",
    "PolicySpec",
    "StoppingRule",
    "Tally",
    "Task",
    "Validator",
    "Verdict",
    "build_validator",
    "estimators",
    "stopping_rules",
    "validators",
]
