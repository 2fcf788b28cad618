"""A small Vault-transit-compatible HTTP server, with real AES-256-GCM behind it.

It speaks the endpoints hvac's transit client and our health probe call, with Vault's response
envelopes, checks ``X-Vault-Token``, and can be told to fail the next N requests (fault tests).
"""

from __future__ import annotations

import base64
import json
import os
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM


class _Server(ThreadingHTTPServer):
    request_queue_size = 256  # benchmarks open many connections at once
    daemon_threads = True


class VaultTransitServer:
    def __init__(self, host: str = "127.0.0.1", port: int = 0, token: str = "root") -> None:
        self.token = token
        self.keys: dict[str, dict] = {}
        self.requests: list[str] = []
        self._failures: list[int] = []
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # Vault's Go HTTP server sets TCP_NODELAY on every connection. Without it here the
            # body, written after the headers, waited for the client's delayed ACK: every
            # transit call took ~40 ms on loopback instead of well under one.
            disable_nagle_algorithm = True

            def log_message(self, *args) -> None:
                pass

            def _reply(self, status: int, body: dict | None) -> None:
                data = json.dumps(body).encode() if body is not None else b""
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _handle(self, method: str) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                server.requests.append(f"{method} {self.path}")
                with server._lock:
                    failure = server._failures.pop(0) if server._failures else None
                if failure is not None:
                    self._reply(failure, {"errors": ["injected failure"]})
                    return
                if self.path.startswith("/v1/sys/health"):
                    self._reply(200, {"initialized": True, "sealed": False, "standby": False})
                    return
                if self.headers.get("X-Vault-Token") != server.token:
                    self._reply(403, {"errors": ["permission denied"]})
                    return
                try:
                    body = json.loads(raw) if raw else {}
                except ValueError:
                    self._reply(400, {"errors": ["failed to parse JSON input"]})
                    return
                status, reply = server.route(method, self.path.split("?")[0], body)
                self._reply(status, reply)

            def do_GET(self) -> None:
                self._handle("GET")

            def do_HEAD(self) -> None:
                self._handle("GET")

            def do_POST(self) -> None:
                self._handle("POST")

            def do_PUT(self) -> None:
                self._handle("POST")

            def do_DELETE(self) -> None:
                self._handle("DELETE")

        self._httpd = _Server((host, port), Handler)
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    # -- control ----------------------------------------------------------------------------------

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> VaultTransitServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def fail_next(self, count: int, status: int = 503) -> None:
        with self._lock:
            self._failures.extend([status] * count)

    def reset_faults(self) -> None:
        with self._lock:
            self._failures.clear()

    # -- the transit engine -----------------------------------------------------------------------

    @staticmethod
    def _envelope(data: dict | None) -> dict:
        return {
            "request_id": str(uuid.uuid4()),
            "lease_id": "",
            "renewable": False,
            "lease_duration": 0,
            "data": data,
            "wrap_info": None,
            "warnings": None,
            "auth": None,
        }

    def route(self, method: str, path: str, body: dict) -> tuple[int, dict | None]:
        parts = path.strip("/").split("/")  # v1, mount, op, name[, config]
        if len(parts) < 4 or parts[0] != "v1":
            return 404, {"errors": []}
        op, name = parts[2], parts[3]
        if op == "keys" and len(parts) == 5 and parts[4] == "config" and method == "POST":
            if name not in self.keys:
                return 400, {"errors": ["no existing key named " + name + " could be found"]}
            if "deletion_allowed" in body:
                self.keys[name]["deletion_allowed"] = bool(body["deletion_allowed"])
            return 200, self._envelope(
                {"name": name, "deletion_allowed": self.keys[name]["deletion_allowed"]}
            )
        if op == "keys" and method == "POST":
            self.keys.setdefault(name, {"key": AESGCM.generate_key(256), "deletion_allowed": False})
            return 204, None
        if op == "keys" and method == "GET":
            if name not in self.keys:
                return 404, {"errors": []}
            return 200, self._envelope(
                {
                    "name": name,
                    "type": "aes256-gcm96",
                    "latest_version": 1,
                    "deletion_allowed": self.keys[name]["deletion_allowed"],
                }
            )
        if op == "keys" and method == "DELETE":
            if name in self.keys and not self.keys[name]["deletion_allowed"]:
                return 400, {"errors": ["deletion is not allowed for this key"]}
            self.keys.pop(name, None)
            return 204, None
        if op == "encrypt" and method == "POST":
            key = self.keys.setdefault(name, {"key": AESGCM.generate_key(256), "deletion_allowed": False})
            try:
                plaintext = base64.b64decode(body["plaintext"], validate=True)
            except (KeyError, ValueError):
                return 400, {"errors": ["failed to base64-decode plaintext"]}
            nonce = os.urandom(12)
            sealed = nonce + AESGCM(key["key"]).encrypt(nonce, plaintext, name.encode())
            return 200, self._envelope(
                {"ciphertext": "vault:v1:" + base64.b64encode(sealed).decode(), "key_version": 1}
            )
        if op == "decrypt" and method == "POST":
            key = self.keys.get(name)
            if key is None:
                return 400, {"errors": ["encryption key not found"]}
            if body.get("batch_input") is not None:
                return self._decrypt_batch(key, name, body)
            plaintext, error = self._decrypt(key, name, body.get("ciphertext"))
            if error:
                return 400, {"errors": [error]}
            return 200, self._envelope({"plaintext": plaintext})
        return 405, {"errors": ["unsupported operation"]}

    @staticmethod
    def _decrypt(key: dict, name: str, ciphertext: object) -> tuple[str | None, str | None]:
        """(base64 plaintext, None) or (None, Vault's error message) for one ciphertext."""
        if not isinstance(ciphertext, str) or not ciphertext:
            return None, "missing ciphertext to decrypt"
        if not ciphertext.startswith("vault:v1:"):
            return None, "invalid ciphertext: no prefix"
        try:
            sealed = base64.b64decode(ciphertext[len("vault:v1:") :], validate=True)
            plaintext = AESGCM(key["key"]).decrypt(sealed[:12], sealed[12:], name.encode())
        except (ValueError, InvalidTag):
            return None, "cipher: message authentication failed"
        return base64.b64encode(plaintext).decode(), None

    def _decrypt_batch(self, key: dict, name: str, body: dict) -> tuple[int, dict]:
        """Vault's batch decrypt: ``batch_results`` in input order, each with its ``reference``
        and either ``plaintext`` or ``error``. Any failed item makes the answer a 400 (with the
        results in it), unless some succeeded and ``partial_failure_response_code`` says which
        status to use instead (Vault ignores an override outside 1-599)."""
        items = body["batch_input"]
        if not isinstance(items, list) or not all(isinstance(item, dict) for item in items):
            return 400, {"errors": ["failed to parse batch input"]}
        if not items:
            return 400, {"errors": ["missing batch input to process"]}
        results, failed = [], 0
        for item in items:
            plaintext, error = self._decrypt(key, name, item.get("ciphertext"))
            result = {"reference": str(item.get("reference", ""))}
            if error:
                failed += 1
                result["error"] = error
            else:
                result["plaintext"] = plaintext
            results.append(result)
        status = 200
        if failed:
            status = 400
            override = body.get("partial_failure_response_code")
            if failed < len(items) and isinstance(override, int) and 1 <= override <= 599:
                status = override
        return status, self._envelope({"batch_results": results})


if __name__ == "__main__":  # a process of its own, for tests/live_stack.py
    import argparse

    parser = argparse.ArgumentParser(description="A Vault-transit-compatible test server.")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--token", required=True)
    arguments = parser.parse_args()
    VaultTransitServer(host="127.0.0.1", port=arguments.port, token=arguments.token).start()._thread.join()
