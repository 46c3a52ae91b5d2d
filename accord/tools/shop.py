"""The refund demo's tools, backed by a real local DuckDB "shop" (orders, payments, refunds)."""

from __future__ import annotations

import uuid
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Annotated, Any

import duckdb
from pydantic import Field

from accord.errors import ConfigError
from accord.ledger.database import Database, opened
from accord.tools.base import ToolFailure, ToolSet
from accord.tools.idempotency import DuckDBKeys

REFUND_WINDOW_DAYS = 30
# order, customer, status, days since delivery, total, payment method, card status
SEED_ORDERS = [
    ("A100", "ada", "delivered", 5, 120.0, "card", "active"),
    ("A101", "bo", "delivered", 12, 60.0, "card", "active"),
    ("A102", "cy", "delivered", 3, 45.0, "card", "expired"),
    ("A103", "dee", "delivered", 9, 800.0, "card", "active"),
    ("A104", "eli", "delivered", 2, 1500.0, "card", "active"),
    ("A105", "fay", "delivered", 10, 75.0, "card", "active"),
]

OrderId = Annotated[str, Field(pattern=r"^[A-Z]\d{3}$", description="an order id like A100")]
Amount = Annotated[float, Field(gt=0, description="amount in USD")]


SHOP_TABLES = frozenset({"orders", "payments", "refunds", "idempotency_keys"})


def _check_is_shop(path: Path, reset: bool) -> None:
    """Refuse a file that is not the shop's own: `reset` would delete it, using it would add
    the shop's tables to someone else's database (a ledger, say)."""
    try:
        with opened(path, timeout_s=0) as db:
            tables = {
                row[0]
                for row in db.execute(
                    "SELECT table_name FROM information_schema.tables "
                    "WHERE table_catalog = current_database()"
                ).fetchall()
            }
    except (duckdb.Error, ConfigError) as exc:
        tables = {f"(not a DuckDB database: {type(exc).__name__})"}
    foreign = sorted(tables - SHOP_TABLES)
    if foreign:
        raise ConfigError(
            f"tools.options.db: {str(path)!r} is not a shop database (it holds "
            f"{', '.join(foreign)}); refusing to {'reset (delete)' if reset else 'use'} it",
            hint="point `db:` at a new file, or at the shop's own database",
        )


def create_shop(path: str | Path, *, reset: bool = False) -> None:
    """Create (or with `reset`, recreate) the shop database with its seed orders.

    Only the shop's own database is reset or used: any other file is refused.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists():
        _check_is_shop(path, reset)
    if reset and path.exists():
        path.unlink()
    with opened(path, timeout_s=0) as db:
        if db.execute(
            "SELECT count(*) FROM information_schema.tables "
            "WHERE table_catalog = current_database() AND table_name = 'orders'"
        ).fetchone()[0]:  # type: ignore[index]
            return
        db.execute(
            "CREATE TABLE orders (order_id VARCHAR PRIMARY KEY, customer VARCHAR, "
            "status VARCHAR, delivered_days_ago INTEGER, total DOUBLE)"
        )
        db.execute(
            "CREATE TABLE payments (order_id VARCHAR, amount DOUBLE, method VARCHAR, "
            "card_status VARCHAR)"
        )
        db.execute(
            "CREATE TABLE refunds (refund_id VARCHAR PRIMARY KEY, order_id VARCHAR, "
            "amount DOUBLE, method VARCHAR, reason VARCHAR, "
            "created_at TIMESTAMP DEFAULT current_timestamp)"
        )
        for order, customer, status, days, total, method, card in SEED_ORDERS:
            db.execute(
                "INSERT INTO orders VALUES (?, ?, ?, ?, ?)", [order, customer, status, days, total]
            )
            db.execute("INSERT INTO payments VALUES (?, ?, ?, ?)", [order, total, method, card])


class _Shop:
    """The shop's database, created (or reset) on first use; its one owner here (the tools'
    idempotency keys use it too)."""

    def __init__(self, db: str, reset: bool) -> None:
        self.db, self.reset = db, reset
        self._database: Database | None = None

    def open(self) -> Database:
        if self._database is None:
            create_shop(self.db, reset=self.reset)
            self._database = Database(self.db)
        return self._database

    def cursor(self) -> AbstractContextManager[duckdb.DuckDBPyConnection]:
        return self.open().cursor()


def shop_tools(db: str = ".accord/shop.duckdb", reset: bool = False) -> ToolSet:
    """The shop's tools over the database at `db` (created with seed orders when missing).

    Building the toolset touches no file: the database is created, reset and opened when a
    tool first runs, so `accord validate` can read the tools' effects without side effects.
    """
    shop = _Shop(db, reset)
    tools = ToolSet(keys=DuckDBKeys(db, before=shop.open))

    def order_facts(con: duckdb.DuckDBPyConnection, order_id: str) -> dict[str, Any]:
        row = con.execute(
            "SELECT o.order_id, o.customer, o.status, o.delivered_days_ago, o.total, "
            "coalesce(sum(p.amount), 0), any_value(p.method), any_value(p.card_status), "
            "(SELECT coalesce(sum(amount), 0) FROM refunds r WHERE r.order_id = o.order_id) "
            "FROM orders o LEFT JOIN payments p USING (order_id) WHERE o.order_id = ? "
            "GROUP BY ALL",
            [order_id],
        ).fetchone()
        if row is None:
            raise ToolFailure(f"no order {order_id!r}")
        keys = (
            "order_id",
            "customer",
            "status",
            "delivered_days_ago",
            "total",
            "paid",
            "method",
            "card_status",
            "refunded",
        )
        return dict(zip(keys, row, strict=True))

    @tools.tool(effect="read")
    def lookup_order(order_id: OrderId) -> dict[str, Any]:
        """Look up an order: customer, status, amount paid, amount already refunded."""
        with shop.cursor() as con:
            return order_facts(con, order_id)

    @tools.tool(effect="read", requires=("lookup_order",))
    def check_policy(order_id: OrderId) -> dict[str, Any]:
        """Check the refund policy: delivered within 30 days, and what is left to refund."""
        with shop.cursor() as con:
            facts = order_facts(con, order_id)
        in_window = facts["delivered_days_ago"] <= REFUND_WINDOW_DAYS
        eligible = facts["status"] == "delivered" and in_window
        reason = (
            "within the refund window"
            if eligible
            else (
                f"delivered {facts['delivered_days_ago']} days ago; the window is "
                f"{REFUND_WINDOW_DAYS} days"
            )
        )
        return {
            "order_id": order_id,
            "eligible": eligible,
            "reason": reason,
            "refundable": round(facts["paid"] - facts["refunded"], 2),
        }

    def pay_back(order_id: str, amount: float, method: str, reason: str) -> dict[str, Any]:
        with shop.cursor() as con:
            facts = order_facts(con, order_id)
            if amount > facts["paid"] - facts["refunded"] + 1e-9:
                raise ToolFailure(
                    f"{amount:g} exceeds what is left to refund on {order_id} "
                    f"({facts['paid'] - facts['refunded']:g})"
                )
            if method == "card" and facts["card_status"] != "active":
                raise ToolFailure(
                    f"the card paid for {order_id} is {facts['card_status']}; "
                    "refund as store credit instead"
                )
            refund_id = f"R-{uuid.uuid4().hex[:8]}"
            con.execute(
                "INSERT INTO refunds (refund_id, order_id, amount, method, reason) "
                "VALUES (?, ?, ?, ?, ?)",
                [refund_id, order_id, amount, method, reason],
            )
        return {"refund_id": refund_id, "order_id": order_id, "amount": amount, "method": method}

    @tools.tool(
        effect="irreversible",
        idempotency=("order_id", "amount"),
        requires=("lookup_order", "check_policy"),
        checks=("amount <= lookup_order.paid", "check_policy.eligible == true"),
    )
    def issue_refund(order_id: OrderId, amount: Amount, reason: str = "") -> dict[str, Any]:
        """Refund money to the card that paid for the order."""
        return pay_back(order_id, amount, "card", reason)

    @tools.tool(
        effect="write",
        idempotency=("order_id", "amount"),
        requires=("lookup_order",),
        checks=("amount <= lookup_order.paid",),
    )
    def issue_store_credit(order_id: OrderId, amount: Amount, reason: str = "") -> dict[str, Any]:
        """Give the customer store credit for (part of) an order."""
        return pay_back(order_id, amount, "store_credit", reason)

    @tools.tool(effect="write", requires=("lookup_order",))
    def adjust_payment(order_id: OrderId, delta: float, reason: str = "") -> dict[str, Any]:
        """Change the recorded payment of an order (finance only)."""
        with shop.cursor() as con:
            order_facts(con, order_id)
            con.execute(
                "UPDATE payments SET amount = amount + ? WHERE order_id = ?", [delta, order_id]
            )
        return {"order_id": order_id, "delta": delta}

    return tools
