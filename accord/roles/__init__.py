"""Roles: prompt building, answer parsing, RoleAgent and the pools that run it (Ray or local)."""

from accord.roles.agent import RoleAgent
from accord.roles.pool import AgentPool, AgentSpec, LocalPool, RayPool
from accord.roles.prompt import RoleProfile

__all__ = ["AgentPool", "AgentSpec", "LocalPool", "RayPool", "RoleAgent", "RoleProfile"]
