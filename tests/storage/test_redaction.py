"""The one place that hides credentials: in URLs, in settings named as secrets, and in
the paths of webhook URLs."""

from __future__ import annotations

import pytest

from partita.storage.redaction import (
    SECRET_NAMES,
    has_credentials,
    is_secret_name,
    redact_credentials,
    redact_option_values,
    redact_options,
    redact_url,
    redact_url_in,
    url_origin,
)

PASSWORD = "s3cr3t-pw"


def test_redact_url_hides_passwords() -> None:
    url = f"postgresql+psycopg://partita:{PASSWORD}@db.example.com:5432/catalog"

    redacted = redact_url(url)

    assert PASSWORD not in redacted
    assert redacted == "postgresql+psycopg://partita:***@db.example.com:5432/catalog"
    assert redact_url("sqlite:////tmp/catalog.db") == "sqlite:////tmp/catalog.db"
    assert redact_url("not a url") == "not a url"


def test_credentials_in_any_url_of_a_text_are_hidden() -> None:
    text = f"cannot open s3://AKIA:{PASSWORD}@bucket/x nor http://u:{PASSWORD}@host/y"

    assert redact_credentials(text) == "cannot open s3://***@bucket/x nor http://***@host/y"
    assert has_credentials(f"s3://key:{PASSWORD}@bucket") and has_credentials("s3://key@b")
    assert not has_credentials("s3://bucket/prefix") and not has_credentials("/tmp/a@b")


@pytest.mark.parametrize(
    "name",
    [
        "password",
        "aws_secret_access_key",
        "key",
        "token",
        "sas_token",
        "client_credentials",
        "passwd",
        "signature",
        "AccountKey",
        "SECRET",
    ],
)
def test_every_secret_name_is_one(name: str) -> None:
    assert is_secret_name(name)


@pytest.mark.parametrize("name", ["endpoint_url", "region_name", "anon", "use_ssl", "profile"])
def test_other_names_are_not_secrets(name: str) -> None:
    assert not is_secret_name(name)


def test_options_hide_secret_values_at_any_depth() -> None:
    options = {
        "key": "AKIA",
        "endpoint_url": "http://minio:9000",
        "client_kwargs": {"aws_secret_access_key": PASSWORD, "region_name": "eu"},
        "token": None,
    }

    assert redact_options(options) == {
        "key": "***",
        "endpoint_url": "http://minio:9000",
        "client_kwargs": {"aws_secret_access_key": "***", "region_name": "eu"},
        "token": None,
    }


def test_secret_values_echoed_in_a_message_are_hidden() -> None:
    options = {"client_kwargs": {"aws_secret_access_key": PASSWORD}, "key": "ab", "anon": "true"}
    message = f"denied for {PASSWORD} (key ab, anon true) at s3://u:{PASSWORD}@b"

    assert redact_option_values(message, options) == (
        "denied for *** (key ab, anon true) at s3://***@b"  # too short to search: "ab"
    )
    assert redact_option_values("plain", None) == "plain"


def test_the_secret_names_are_one_list() -> None:
    assert len(SECRET_NAMES) == len(set(SECRET_NAMES))
    assert all(is_secret_name(name) for name in SECRET_NAMES)


def test_a_webhook_url_is_shown_by_its_origin() -> None:
    url = "https://hooks.example.com:8443/services/T000/B000/XXXX?token=abc"

    assert url_origin(url) == "https://hooks.example.com:8443"
    error = f"<urlopen error {url}> (path /services/T000/B000/XXXX?token=abc)"
    assert redact_url_in(error, url) == (
        "<urlopen error https://hooks.example.com:8443> (path /...)"
    )
    assert redact_url_in("refused", "http://host") == "refused"
