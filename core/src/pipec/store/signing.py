"""Signatures of what the store holds, so that writing to the store is not running code.

With `PIPEC_SIGNING_KEY` set, every record the store writes (run and step records,
specs, the IR, cache entries) carries an HMAC-SHA256 of its content and of where it is
written, and every pickled value carries one of its content hash. A reader holding the
same key refuses an unsigned or mismatched record before it looks inside, and a pickle
before it is unpickled: someone who can write to the store but does not know the key
can break runs, never run code in them or make one read a value it did not write.

Without the key nothing is signed and nothing is checked: whoever can write to the store
can run code in every step that reads a pickle from it (see the README's threat model).

The key is read from the environment of each process, never written into a compiled
DAG or flow file. Internal.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
from typing import Any

KEY_VARIABLE = "PIPEC_SIGNING_KEY"

FIELD = "signature"
"""The member of a record's JSON object that holds its signature."""

PICKLES = frozenset({"cloudpickle", "custom"})
"""Serializers whose reading may run code: their values must be signed under a key."""


class SignatureError(Exception):
    """Something the store holds is unsigned or signed with another key."""


def key() -> bytes | None:
    """This process's signing key, or None when signing is off."""
    value = os.environ.get(KEY_VARIABLE)
    return value.encode() if value else None


def _mac(secret: bytes, *parts: str) -> str:
    return hmac.new(secret, "\n".join(parts).encode(), hashlib.sha256).hexdigest()


def _canonical(data: dict[str, Any]) -> str:
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def sign_record(rel: str, data: dict[str, Any], secret: bytes) -> dict[str, Any]:
    """The record's JSON object with its signature, bound to where it is written, so a
    signed record copied elsewhere in the store (another cache key) is refused there."""
    return {**data, FIELD: _mac(secret, "record", rel, _canonical(data))}


def open_record(rel: str, data: dict[str, Any], secret: bytes | None) -> dict[str, Any]:
    """The record's content without its signature; under a key, only if the signature
    matches."""
    content = {k: v for k, v in data.items() if k != FIELD}
    if secret is None:
        return content
    signature = data.get(FIELD)
    if not isinstance(signature, str):
        raise SignatureError(f"it is not signed, and {KEY_VARIABLE} is set")
    if not hmac.compare_digest(signature, _mac(secret, "record", rel, _canonical(content))):
        raise SignatureError("its signature does not match (changed, moved, or another key)")
    return content


def value_signature(serializer: str, digest: str, secret: bytes) -> str:
    """A pickled value's signature: of its content hash, which the read checks anyway."""
    return _mac(secret, "value", serializer, digest)


def check_value(serializer: str, digest: str, signature: str | None, secret: bytes) -> None:
    if signature is None:
        raise SignatureError(f"it is not signed, and {KEY_VARIABLE} is set")
    if not hmac.compare_digest(signature, value_signature(serializer, digest, secret)):
        raise SignatureError("its signature does not match (changed, or another key)")
