"""The audit key: an HMAC-SHA256 key kept outside the ledger, which keys every audit chain.

Where it lives, first match wins: the `ACCORD_AUDIT_KEY_FILE` environment variable (a path);
`$XDG_CONFIG_HOME/accord/audit.key`; `~/.config/accord/audit.key`. A writer creates it on
first use (32 random bytes as hex, mode 0600, in a 0700 folder); a reader (`accord audit
verify`) never creates one. A key file that others may read or write is refused: whoever reads
it can forge a chain.

Someone who can write the ledger but cannot read this file cannot recompute a chain, so their
edits show. Someone who holds the key and can write the ledger and the heads file can rewrite
history consistently; nothing in the files can tell.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from accord.canonical import canonical
from accord.errors import ConfigError

KEY_ENV = "ACCORD_AUDIT_KEY_FILE"
_HINT = f"set {KEY_ENV} or pass --key to the file that holds the audit key"


def default_key_path() -> Path:
    """Where the audit key is looked for (see the module note)."""
    if os.environ.get(KEY_ENV):
        return Path(os.environ[KEY_ENV]).expanduser()
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "accord" / "audit.key"


@dataclass(frozen=True)
class AuditKey:
    """The key that chains audit events; `id` names it without revealing it."""

    secret: bytes
    path: Path

    @property
    def id(self) -> str:
        """A short public fingerprint of the key (recorded in the heads file)."""
        return self.mac("accord-audit-key-id")[:16]

    def mac(self, value: Any) -> str:
        """HMAC-SHA256 of the canonical JSON of `value` (hex)."""
        message = value if isinstance(value, str) else canonical(value)
        return hmac.new(self.secret, message.encode(), hashlib.sha256).hexdigest()

    def genesis(self, run_id: str) -> str:
        """The keyed value the first event of a run links to."""
        return self.mac(f"accord-audit-genesis:{run_id}")


def load_key(path: str | Path | None = None, *, create: bool = True) -> AuditKey:
    """The audit key at `path` (the default place when None), created there if `create`."""
    where = Path(path).expanduser() if path is not None else default_key_path()
    if not where.exists():
        if not create:
            raise ConfigError(
                "no audit key here: the runs were chained with a key kept elsewhere",
                path=where,
                hint=_HINT,
            )
        _create(where)
    return AuditKey(_read(where), where)


def _create(where: Path) -> None:
    """Write a new key atomically: another process creating one at once wins, not both."""
    try:
        where.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        temp = where.with_name(f".{where.name}.{os.getpid()}.{secrets.token_hex(4)}")
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            os.write(fd, (secrets.token_hex(32) + "\n").encode())
            os.fsync(fd)
        finally:
            os.close(fd)
        try:
            os.link(temp, where)  # fails if another process created it meanwhile: keep theirs
        except FileExistsError:
            pass
        finally:
            temp.unlink()
    except OSError as exc:
        raise ConfigError(
            f"cannot create the audit key: {exc.strerror}", path=where, hint=_HINT
        ) from None


def _read(where: Path) -> bytes:
    try:
        mode = where.stat().st_mode
        text = where.read_text().strip()
    except OSError as exc:
        raise ConfigError(f"cannot read the audit key: {exc.strerror}", path=where) from None
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise ConfigError(
            f"the audit key is open to other users (mode {stat.S_IMODE(mode):04o}): "
            "anyone who reads it can forge the audit trail",
            path=where,
            hint=f"chmod 600 {where}",
        )
    try:
        secret = bytes.fromhex(text)
    except ValueError:
        secret = b""
    if len(secret) < 16:
        raise ConfigError(
            "not an audit key: expected at least 32 hex digits",
            path=where,
            hint="move it away and let accord create a new one (old runs then need the old key)",
        )
    return secret
