"""The shop toolset: a real DuckDB database of orders, payments and refunds."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from accord.tools.base import ToolFailure
from accord.tools.toolsets import create_toolset


def test_refund_is_written_and_bounded_by_what_was_paid(tmp_path: Path) -> None:
    db = tmp_path / "shop.duckdb"
    shop = create_toolset("shop", db=str(db), reset=True)
    assert shop.get("lookup_order")(order_id="A100")["paid"] == 120.0
    shop.get("issue_refund")(order_id="A100", amount=100.0)
    assert shop.get("check_policy")(order_id="A100")["refundable"] == 20.0
    with pytest.raises(ToolFailure, match="exceeds"):
        shop.get("issue_refund")(order_id="A100", amount=50.0)
    with duckdb.connect(str(db)) as con:
        assert con.execute("SELECT sum(amount) FROM refunds").fetchone()[0] == 100.0


def test_expired_card_fails_and_unknown_order_fails(tmp_path: Path) -> None:
    shop = create_toolset("shop", db=str(tmp_path / "s.duckdb"), reset=True)
    with pytest.raises(ToolFailure, match="expired"):
        shop.get("issue_refund")(order_id="A102", amount=45.0)
    with pytest.raises(ToolFailure, match="no order"):
        shop.get("lookup_order")(order_id="Z999")


def test_declared_effects_and_preconditions(tmp_path: Path) -> None:
    shop = create_toolset("shop", db=str(tmp_path / "s.duckdb"))
    refund = shop.get("issue_refund")
    assert refund.effect == "irreversible"
    assert refund.requires == ("lookup_order", "check_policy")
    assert "amount <= lookup_order.paid" in refund.checks
    assert shop.get("lookup_order").effect == "read"
