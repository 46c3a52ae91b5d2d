"""Canonical JSON text of a value and its sha256, shared by tools (idempotency) and the audit."""

from __future__ import annotations

import hashlib
import json
from typing import Any


def canonical(value: Any) -> str:
    """Stable JSON text of `value`: sorted keys, no spaces, non-JSON values as strings."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)


def digest(value: Any) -> str:
    """sha256 of the canonical JSON of `value` (hex)."""
    return hashlib.sha256(canonical(value).encode()).hexdigest()
