"""Asset keys and partition keys: what is allowed, checked in one place."""

from __future__ import annotations

import re

from partita.errors import DefinitionError, PartitionKeyError

ASSET_KEY_PATTERN = re.compile(r"[a-z0-9_]+(/[a-z0-9_]+)*")
UNPARTITIONED = ""
"""The partition key of an unpartitioned asset's single partition."""

_UNSAFE = re.compile(r"[\x00-\x1f\x7f/\\]")


def check_asset_key(key: str) -> str:
    """Return ``key`` if it is a valid asset key, else raise :class:`DefinitionError`."""
    if not ASSET_KEY_PATTERN.fullmatch(key):
        raise DefinitionError(
            f"invalid asset key {key!r}: use lowercase letters, digits and '_', "
            "with '/' between namespaces (e.g. 'sales/raw')"
        )
    return key


def check_safe_key(key: str) -> str:
    """Reject partition keys that could escape a path or corrupt a listing."""
    if key in {".", ".."} or ".." in key or _UNSAFE.search(key) or key.startswith("."):
        raise PartitionKeyError(
            f"unsafe partition key {key!r}: keys must not contain '/', '\\', '..' "
            "or control characters, nor start with '.'"
        )
    return key


def check_key_part(key: str) -> str:
    """Validate one dimension's key: safe, and free of the characters keys are joined by."""
    check_safe_key(key)
    if not key or key != key.strip() or any(sep in key for sep in "|,="):
        raise PartitionKeyError(
            f"invalid partition key {key!r}: a key must be non-empty, without surrounding "
            "spaces and without '|', ',' or '='"
        )
    return key


def display_key(key: str) -> str:
    """How a partition key is shown to people (the unpartitioned key is shown as '-')."""
    return key if key != UNPARTITIONED else "-"
