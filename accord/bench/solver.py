"""The role every bench strategy asks (accord's own strategies and the peers alike)."""

from __future__ import annotations

from accord.roles.prompt import RoleProfile

SOLVER = RoleProfile("solver", goal="answer the question correctly")
