"""Tools: typed arguments from signatures, JSON schema for prompts, effects, idempotency keys."""

from __future__ import annotations

from typing import Annotated

import pytest
from pydantic import Field, ValidationError

from accord.errors import ConfigError, UnknownNameError
from accord.tools.base import ToolSet
from accord.tools.constraints import Constraint


def make_tools() -> ToolSet:
    tools = ToolSet()

    @tools.tool(effect="read")
    def lookup(order_id: Annotated[str, Field(pattern=r"^A\d+$")]) -> dict:
        """Look an order up."""
        return {"order_id": order_id, "paid": 100.0}

    @tools.tool(effect="irreversible", idempotency=("order_id", "amount"))
    def refund(order_id: str, amount: Annotated[float, Field(gt=0)], note: str = "") -> dict:
        """Refund an order."""
        return {"order_id": order_id, "amount": amount}

    return tools


def test_schema_is_exported_from_the_signature() -> None:
    schema = make_tools().get("refund").schema()
    assert schema["name"] == "refund"
    assert schema["effect"] == "irreversible"
    assert schema["description"] == "Refund an order."
    params = schema["parameters"]
    assert params["required"] == ["order_id", "amount"]
    assert params["properties"]["amount"]["exclusiveMinimum"] == 0
    assert params["additionalProperties"] is False


def test_arguments_are_validated_strictly() -> None:
    tool = make_tools().get("refund")
    assert tool.validate({"order_id": "A1", "amount": 12})["amount"] == 12.0  # a JSON number
    for wrong in (True, "12.5", None, [12]):  # `true` is not 1 USD, text is not a number
        with pytest.raises(ValidationError):
            tool.validate({"order_id": "A1", "amount": wrong})
    with pytest.raises(ValidationError):
        tool.validate({"order_id": "A1", "amount": -1})
    with pytest.raises(ValidationError):
        tool.validate({"order_id": "A1", "amount": 1, "surprise": True})


def test_idempotency_key_uses_declared_arguments_and_reads_have_none() -> None:
    tools = make_tools()
    refund = tools.get("refund")
    a = refund.idempotency_key({"order_id": "A1", "amount": 5.0, "note": "x"})
    b = refund.idempotency_key({"order_id": "A1", "amount": 5.0, "note": "other"})
    c = refund.idempotency_key({"order_id": "A1", "amount": 6.0, "note": "x"})
    assert a == b != c
    assert tools.get("lookup").idempotency_key({"order_id": "A1"}) is None


def test_unknown_tool_lists_known_ones() -> None:
    with pytest.raises(UnknownNameError, match="refund"):
        make_tools().get("refnud")


@pytest.mark.parametrize(
    ("text", "env", "expected"),
    [
        ("amount <= 500", {"amount": 500}, True),
        ("amount <= 500", {"amount": 500.01}, False),
        ("amount < lookup.paid", {"amount": 5, "lookup": {"paid": 10}}, True),
        ("status == 'paid'", {"status": "paid"}, True),
        ("eligible == true", {"eligible": False}, False),
        ("method in ['card', 'cash']", {"method": "cash"}, True),
        ("method not in ['card']", {"method": "card"}, False),
        ("amount <= 500", {}, None),
    ],
)
def test_constraints(text: str, env: dict, expected: bool | None) -> None:
    assert Constraint.parse(text).check(env) is expected


def test_malformed_constraint_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="constraint"):
        Constraint.parse("amount is small")
