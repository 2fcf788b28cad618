"""The base of the local protocol servers in tests/fakes: a threaded HTTP server on a free
loopback port, in a background thread, that records every request and hands it to ``handle``."""

from __future__ import annotations

import io
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from PIL import Image


def png(size: tuple[int, int], color: tuple[int, int, int] = (30, 120, 220)) -> bytes:
    """A solid PNG of the given size (tests compare colours to tell images apart)."""
    buffer = io.BytesIO()
    Image.new("RGB", (max(1, size[0]), max(1, size[1])), color).save(buffer, "PNG")
    return buffer.getvalue()


class LocalHTTPServer:
    """A ThreadingHTTPServer on a free loopback port, in a background thread, that records every
    request (method, path, query, lower-cased headers, raw body, parsed JSON) and hands it to
    ``handle``."""

    def __init__(self) -> None:
        self.requests: list[dict] = []
        self.disconnected = 0  # answers the client hung up on (cancelled calls)
        self._lock = threading.Lock()
        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # Headers and body in one segment, sent at once: no 40 ms delayed-ACK stalls.
            disable_nagle_algorithm = True
            wbufsize = 1 << 16

            def log_message(self, *args) -> None:
                pass

            def reply(
                self,
                status: int,
                body: object,
                *,
                content_type: str = "application/json",
                headers: dict | None = None,
                content_length: bool = True,
            ) -> None:
                data = body if isinstance(body, bytes) else json.dumps(body).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", content_type)
                    if content_length:
                        self.send_header("Content-Length", str(len(data)))
                    else:  # the body runs until the connection closes
                        self.send_header("Connection", "close")
                        self.close_connection = True
                    for key, value in (headers or {}).items():
                        self.send_header(key, value)
                    self.end_headers()
                    self.wfile.write(data)
                    self.wfile.flush()
                except (BrokenPipeError, ConnectionResetError):
                    owner.disconnected += 1

            def _dispatch(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                parts = urlsplit(self.path)
                try:
                    parsed = json.loads(raw) if raw else None
                except ValueError:
                    parsed = None
                record = {
                    "method": self.command,
                    "path": parts.path,
                    "query": {k: v[-1] for k, v in parse_qs(parts.query).items()},
                    "headers": {k.lower(): v for k, v in self.headers.items()},
                    "body": raw,
                    "json": parsed,
                    "at": time.monotonic(),
                }
                with owner._lock:
                    owner.requests.append(record)
                owner.handle(self, record)

            do_GET = do_POST = do_PUT = do_DELETE = _dispatch

        class Server(ThreadingHTTPServer):
            daemon_threads = True
            block_on_close = False

            def handle_error(self, request, client_address) -> None:
                pass  # clients that hang up mid-answer (cancelled calls) are expected

        self._httpd = Server(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._httpd.serve_forever, args=(0.05,), daemon=True)

    @property
    def port(self) -> int:
        return self._httpd.server_address[1]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self):
        self._thread.start()
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def handle(self, handler, record: dict) -> None:  # pragma: no cover - overridden
        raise NotImplementedError
