"""The audit chain's seal: pure functions, no ORM (the migration that keyed
the chain uses them too).

A link is HMAC-SHA256 under AUDIT_CHAIN_KEY over the event's fields, the
digest of its payload (not the payload itself) and the previous link. The
payload digest is stored beside the payload, so retention can blank the
payload (issue 17: "destroy payload, keep hashes") and the chain still
verifies: the link covers the digest, and the digest is kept.
"""

import hashlib
import hmac
import json
from collections.abc import Sequence

GENESIS_HASH = "0" * 64


class AuditKeyMissing(RuntimeError):
    """Raised when the chain must be sealed or checked and no key is configured."""


def canonical(value) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"), default=str)


def payload_digest(summary) -> str:
    """SHA-256 of the payload as stored (keys sorted, so jsonb's reordering is harmless)."""
    return hashlib.sha256(canonical(summary).encode()).hexdigest()


def chain_link(key: bytes, fields: Sequence) -> str:
    """The link of one event: `fields` are seq, at (ISO), actor id, actor label,
    action, object type, object id, payload digest, request id, previous link."""
    if not key:
        raise AuditKeyMissing(
            "AUDIT_CHAIN_KEY (or AUDIT_CHAIN_KEY_FILE) is not set: the audit chain "
            "cannot be sealed or verified without its key"
        )
    return hmac.new(key, canonical(list(fields)).encode(), hashlib.sha256).hexdigest()


def anchor_signature(key: bytes, body: dict) -> str:
    if not key:
        raise AuditKeyMissing("AUDIT_ANCHOR_KEY (or AUDIT_ANCHOR_KEY_FILE) is not set")
    return hmac.new(key, canonical(body).encode(), hashlib.sha256).hexdigest()
