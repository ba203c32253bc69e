"""Serving the web UI with uvicorn: bind first, then say where (``partita ui``)."""

from __future__ import annotations

import socket
import sys

import uvicorn

from partita.core.project import Project
from partita.errors import ConfigError
from partita.ui.app import create_app

_LOOPBACK = ("127.0.0.1", "localhost", "::1")


class _Server(uvicorn.Server):
    """A uvicorn server that prints its URL once it listens."""

    def __init__(self, config: uvicorn.Config, url: str) -> None:
        super().__init__(config)
        self._url = url

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        if self.started:
            print(f"partita ui: {self._url}", flush=True)


def bind(host: str, port: int) -> socket.socket:
    """A listening socket on ``host:port`` (port 0: a free one).

    Raises:
        ConfigError: the address cannot be used (taken, or not this machine's).
    """
    try:
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise ConfigError(
            f"cannot listen on {host}:{port}: {exc.strerror}; pick another --port (0: any free one)"
        ) from exc
    sock.set_inheritable(True)
    return sock


def allowed_hosts(host: str, port: int) -> set[str] | None:
    """The ``Host`` headers a browser sends to this server (``None``: any, when it
    listens on every address)."""
    if host in ("", "0.0.0.0", "::"):
        return None
    names = {host, "localhost", "127.0.0.1"} if host in _LOOPBACK else {host}
    return {f"{_bracketed(name)}:{port}" for name in names}


def _bracketed(host: str) -> str:
    return f"[{host}]" if ":" in host else host


def serve(project: Project, host: str, port: int) -> None:
    """Serve the UI of ``project`` until interrupted."""
    sock = bind(host, port)
    port = sock.getsockname()[1]
    app = create_app(project, hosts=allowed_hosts(host, port))
    config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="on")
    server = _Server(config, f"http://{_bracketed(host)}:{port}/")
    try:
        server.run(sockets=[sock])
    finally:
        sock.close()
        sys.stdout.flush()


__all__ = ["allowed_hosts", "bind", "serve"]
