"""A webhook receiver on 127.0.0.1 for alert tests: collects the JSON bodies POSTed to it."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

# The path a chat service's webhook URL carries: its token. It must never be shown.
SECRET_PATH = "/services/T0000/B0000/s3cr3tT0k3n"


class WebhookServer:
    """An HTTP server in a thread (port 0) that records every POST.

    Attributes:
        received: the bodies of the POSTs it answered 2xx, in order.
        requests: how many POSTs came in (answered or refused).
        statuses: the status codes to answer the next POSTs with (then 200).
        before_answer: called with each body before answering (e.g. to block).
    """

    def __init__(self) -> None:
        self.received: list[dict[str, Any]] = []
        self.paths: list[str] = []
        self.requests = 0
        self.statuses: list[int] = []
        self.before_answer: Callable[[dict[str, Any]], None] | None = None
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                if server.before_answer is not None:
                    server.before_answer(body)
                with server._lock:
                    server.requests += 1
                    status = server.statuses.pop(0) if server.statuses else 200
                    if status < 300:
                        server.received.append(body)
                        server.paths.append(self.path)
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass  # quiet

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        """The webhook URL, with a token-like path."""
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}{SECRET_PATH}"

    @property
    def origin(self) -> str:
        """What may be shown of the URL: scheme and host."""
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def events(self, kind: str | None = None) -> list[dict[str, Any]]:
        """The events received (of one kind)."""
        with self._lock:
            return [e for e in self.received if kind is None or e["event"] == kind]

    def __enter__(self) -> WebhookServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()
