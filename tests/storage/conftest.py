"""Storage fixtures: an S3 endpoint on loopback (moto), so stores can run against S3."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from typing import Any

import fsspec
import pytest


def _require(module: str) -> None:
    """Import an optional test dependency: skip without it, except on CI where it must run."""
    if os.environ.get("CI", "").lower() == "true":
        __import__(module)
    else:
        pytest.importorskip(module)


@pytest.fixture(scope="session")
def s3_bucket(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, dict[str, Any]]]:
    """A fresh bucket on a moto S3 server bound to 127.0.0.1, and the s3fs options to reach it.

    The AWS variables are fakes, set for this process while the server runs, so botocore
    never looks for real credentials, profiles or instance metadata.
    """
    _require("s3fs")
    _require("moto.server")
    from moto.server import ThreadedMotoServer

    nowhere = str(tmp_path_factory.mktemp("aws") / "none")
    with pytest.MonkeyPatch.context() as env:
        for name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL"):
            env.delenv(name, raising=False)
        env.setenv("AWS_ACCESS_KEY_ID", "testing")
        env.setenv("AWS_SECRET_ACCESS_KEY", "testing")
        env.setenv("AWS_DEFAULT_REGION", "eu-west-1")
        env.setenv("AWS_CONFIG_FILE", nowhere)
        env.setenv("AWS_SHARED_CREDENTIALS_FILE", nowhere)
        env.setenv("AWS_EC2_METADATA_DISABLED", "true")
        server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        server.start()
        try:
            host, port = server.get_host_and_port()
            options: dict[str, Any] = {
                "endpoint_url": f"http://{host}:{port}",
                "key": "testing",
                "secret": "testing",
                "client_kwargs": {"region_name": "eu-west-1"},
            }
            bucket = f"partita-test-{uuid.uuid4().hex[:12]}"
            fsspec.filesystem("s3", skip_instance_cache=True, **options).mkdir(bucket)
            yield bucket, options
        finally:
            server.stop()
