"""Version ids: one new, time-sortable id for every write attempt."""

from __future__ import annotations

import secrets
import time

# Crockford's base32: no I, L, O or U, so ids read back unambiguously.
_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_LENGTH = 26  # 26 x 5 bits = 130 bits >= 48-bit timestamp + 80 random bits


def new_version_id() -> str:
    """Return a new ULID-like version id.

    The id is 26 characters of Crockford base32: a 48-bit Unix timestamp in
    milliseconds followed by 80 random bits. Ids sort lexicographically by the
    millisecond they were made in; two ids made in the same millisecond are
    distinct (80 random bits) but in no particular order.

    Returns:
        The new id, e.g. ``"01JRB3W7N4Q8ZK6T2M5XH9CDEF"``.
    """
    millis = (time.time_ns() // 1_000_000) & ((1 << 48) - 1)
    value = (millis << 80) | int.from_bytes(secrets.token_bytes(10), "big")
    chars = []
    for _ in range(_LENGTH):
        chars.append(_ALPHABET[value & 31])
        value >>= 5
    return "".join(reversed(chars))


__all__ = ["new_version_id"]
