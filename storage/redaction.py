"""Credentials never appear in logs or output: the one place that hides them.

Secrets reach messages three ways, each hidden here: in a URL's authority
(``postgresql://user:password@host``, ``s3://key:secret@bucket``), as the values of
settings whose names say they are secrets (``storage_options``), and in the path of a
webhook URL (``https://hooks.example.com/T000/B000/XXXX``). Which names are secret is
decided by one list, :data:`SECRET_NAMES`.

Cheap to import: SQLAlchemy is imported only to redact a database URL.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

SECRET_NAMES = ("secret", "password", "passwd", "token", "credential", "key", "sas", "signature")
"""Words that make a setting's value a secret wherever they occur in its name
(``key`` covers ``aws_access_key_id``, ``account_key``; ``sas`` an Azure ``sas_token``)."""

MASK = "***"
_SECRET_NAME = re.compile("|".join(SECRET_NAMES), re.IGNORECASE)
_USERINFO = re.compile(r"(?<=://)[^/?#]*@")  # "user:password@" after a URL's scheme
_PASSWORD = re.compile(r"([^:/@\s]+:)[^/@]*@")  # "user:password@", for a URL that won't parse
_SHORTEST_SECRET = 4  # shorter option values are not searched for in text (too common)


def is_secret_name(name: object) -> bool:
    """Whether a setting called ``name`` holds a secret."""
    return bool(_SECRET_NAME.search(str(name)))


def has_credentials(url: str) -> bool:
    """Whether a URL has a ``user:password@`` (or ``key@``) in its authority."""
    return bool(_USERINFO.search(url))


def redact_credentials(text: str) -> str:
    """``text`` with the ``user:password@`` of any URL in it replaced by ``***@``."""
    return _USERINFO.sub(f"{MASK}@", text)


def redact_url(url: str) -> str:
    """A database URL with its password replaced by ``***`` and its user kept (also
    when the URL does not parse)."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        return make_url(url).render_as_string(hide_password=True)
    except (ArgumentError, ValueError):  # ValueError: e.g. a port that is not a number
        return _PASSWORD.sub(rf"\1{MASK}@", url, count=1)


def redact_options(options: Mapping[str, Any]) -> dict[str, Any]:
    """Settings with every secret value (by its name, at any depth) replaced by ``***``."""
    redacted: dict[str, Any] = {}
    for name, value in options.items():
        if isinstance(value, Mapping):
            redacted[name] = redact_options(value)
        elif is_secret_name(name) and value is not None:
            redacted[name] = MASK
        else:
            redacted[name] = value
    return redacted


def redact_option_values(text: str, options: Mapping[str, Any] | None) -> str:
    """``text`` without the values of secret settings (as a library's error may echo
    them), nor credentials in URLs."""
    text = redact_credentials(text)
    for name, value in _flatten(options or {}):
        if is_secret_name(name) and isinstance(value, str) and len(value) >= _SHORTEST_SECRET:
            text = text.replace(value, MASK)
    return text


def url_origin(url: str) -> str:
    """A URL shown as ``scheme://host[:port]``: the path and query of a webhook URL
    often hold a token."""
    parts = urlsplit(url)
    host = parts.hostname or "?"
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}"


def redact_url_in(text: str, url: str) -> str:
    """``text`` with ``url`` shown as its origin, and its path (where a token may be)
    as ``/...`` wherever it appears alone."""
    origin = url_origin(url)
    text = text.replace(url, origin)
    path = url.removeprefix(origin)
    return text.replace(path, "/...") if path.strip("/") else text


def _flatten(options: Mapping[str, Any]) -> list[tuple[str, Any]]:
    found: list[tuple[str, Any]] = []
    for name, value in options.items():
        if isinstance(value, Mapping):
            found.extend(_flatten(value))
        else:
            found.append((str(name), value))
    return found


__all__ = [
    "MASK",
    "SECRET_NAMES",
    "has_credentials",
    "is_secret_name",
    "redact_credentials",
    "redact_option_values",
    "redact_options",
    "redact_url",
    "redact_url_in",
    "url_origin",
]
