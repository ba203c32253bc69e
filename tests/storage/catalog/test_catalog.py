"""Opening a catalog: clear errors for unusable URLs, and never a password in them."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from partita.errors import CatalogError, ConfigError
from partita.storage import Catalog
from partita.storage.redaction import redact_url
from tests.conftest import postgres_url

PASSWORD = "s3cr3t-pw"


def test_url_has_no_password(make_catalog) -> None:
    catalog = make_catalog()
    assert catalog.url == redact_url(make_catalog.url)
    assert PASSWORD not in catalog.url


@pytest.mark.parametrize("missing", ["/nonexistent-dir", "TMP/no-such-dir"])
def test_an_unreachable_sqlite_path_is_one_clear_catalog_error(
    tmp_path: Path, missing: str
) -> None:
    directory = missing.replace("TMP", str(tmp_path))
    assert not os.path.exists(directory)

    with pytest.raises(CatalogError) as raised:
        Catalog(f"sqlite:///{directory}/x.db")

    message = str(raised.value)
    assert len(message.splitlines()) == 1
    assert f"directory {directory} does not exist" in message
    assert not os.path.exists(directory)


@pytest.mark.parametrize("url", ["not a url", "nosuchdb://host/db", "sqlite:/x.db"])
def test_a_malformed_url_is_a_config_error(url: str) -> None:
    with pytest.raises(ConfigError) as raised:
        Catalog(url)
    assert len(str(raised.value).splitlines()) == 1


@pytest.mark.parametrize(
    "url",
    [
        f"postgresql://partita:{PASSWORD}@db.example.com:not-a-port/catalog",
        f"postgres ql://partita:{PASSWORD}@db.example.com/catalog",
        f"partita:{PASSWORD}@db.example.com/catalog",
    ],
)
def test_a_password_in_a_malformed_url_is_redacted_too(url: str) -> None:
    assert redact_url(url) == url.replace(PASSWORD, "***")

    with pytest.raises(ConfigError) as raised:
        Catalog(url)

    message = str(raised.value)
    assert PASSWORD not in message
    assert "partita:***@db.example.com" in message
    assert "is not a database URL" in message


def test_an_unusable_postgres_catalog_error_has_no_password() -> None:
    # Without psycopg the driver is missing (ConfigError); with it, nothing listens on
    # port 1 (CatalogError). Either way the message names the URL without its password.
    url = f"postgresql+psycopg://partita:{PASSWORD}@127.0.0.1:1/catalog?connect_timeout=2"

    with pytest.raises((ConfigError, CatalogError)) as raised:
        Catalog(url)

    assert PASSWORD not in str(raised.value)
    assert "partita:***@127.0.0.1" in str(raised.value)


def test_a_failing_postgres_catalog_error_has_no_password() -> None:
    # A server that answers, with a database that does not exist (or, where the server
    # checks passwords, a wrong one): the error comes from the server, the URL is redacted.
    server = make_url(postgres_url())
    url = server.set(password=PASSWORD, database="partita_no_such_database").render_as_string(
        hide_password=False
    )

    with pytest.raises(CatalogError) as raised:
        Catalog(url)

    message = str(raised.value)
    assert PASSWORD not in message
    assert f"{server.username}:***@" in message
    assert len(message.splitlines()) == 1
