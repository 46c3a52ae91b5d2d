"""`accord ui`: a local, read-only web dashboard over a ledger file.

Pages: the runs (filter by crew and time), a run (its task graph and decisions), a decision
(its path, attempts, vote and audit events), cost over time, and bench results with an
interactive Pareto frontier. Needs the `ui` extra: `pip install 'accord[ui]'`.
"""

from __future__ import annotations

from accord.ui.server import serve

__all__ = ["serve"]
