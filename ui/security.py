"""Cross-site protection for the web UI's writes.

Every POST must carry the ``X-CSRF-Token`` header with the token the pages embed (new at
each server start), and a request that says where it comes from (``Origin``) must come
from the server's own origin. A page on another site can make a browser send a POST to
localhost, but it can neither read the token nor fake its own origin.
"""

from __future__ import annotations

import secrets
from collections.abc import Collection

CSRF_HEADER = "X-CSRF-Token"


def new_token() -> str:
    """A fresh random token."""
    return secrets.token_urlsafe(32)


def csrf_problem(token: str, sent: str | None, origin: str | None, own_origin: str) -> str | None:
    """Why a write must be refused, or ``None`` when it may go on.

    Args:
        token: the server's token.
        sent: the ``X-CSRF-Token`` header of the request, if any.
        origin: the ``Origin`` header of the request, if any.
        own_origin: the server's origin as the request reached it (``http://host:port``).
    """
    if not sent or not secrets.compare_digest(sent.encode(), token.encode()):
        return (
            f"missing or wrong {CSRF_HEADER} header: send the token of the page's "
            '<meta name="csrf-token"> with every POST'
        )
    if origin is not None and origin.rstrip("/").lower() != own_origin.lower():
        return f"cross-origin request refused: Origin {origin} is not {own_origin}"
    return None


def host_allowed(host: str | None, allowed: Collection[str] | None) -> bool:
    """Whether a request's ``Host`` header names this server (``allowed`` ``None``: any).

    Checking it keeps a DNS-rebinding page (another name pointing at 127.0.0.1) out.
    """
    return allowed is None or (host or "").lower() in allowed


__all__ = ["CSRF_HEADER", "csrf_problem", "host_allowed", "new_token"]
