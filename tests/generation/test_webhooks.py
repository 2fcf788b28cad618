"""Completion webhooks: delivered, signed Standard-Webhooks style, retried, and never to private hosts."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from generation.webhooks import WebhookRefused, check_webhook_url, sign
from tests.conftest import wait_for_task

pytestmark = pytest.mark.django_db(transaction=True)


class Receiver:
    """A webhook endpoint that fails the first ``fail_first`` deliveries with 500."""

    def __init__(self, fail_first: int = 0) -> None:
        self.deliveries: list[dict] = []
        self.fail_first = fail_first
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.deliveries.append({"headers": dict(self.headers), "body": body})
                status = 500 if len(receiver.deliveries) <= receiver.fail_first else 204
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/hook"

    def wait(self, count: int, timeout: float = 15) -> None:
        deadline = time.monotonic() + timeout
        while len(self.deliveries) < count:
            assert time.monotonic() < deadline, f"{len(self.deliveries)} deliveries"
            time.sleep(0.05)


@pytest.fixture
def allow_private(settings):
    settings.GENERATION = {**settings.GENERATION, "WEBHOOK_ALLOW_PRIVATE": True}


def _verify(secret: str, headers: dict, body: bytes) -> bool:
    key = base64.b64decode(secret.removeprefix("whsec_"))
    signed = f"{headers['webhook-id']}.{headers['webhook-timestamp']}.".encode() + body
    expected = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    return hmac.compare_digest(headers["webhook-signature"], f"v1,{expected}")


def test_delivered_and_signed_on_completion(alice_api, worker, allow_private):
    receiver = Receiver()
    task = alice_api.post(
        "/v1/apps/images/generate", {"prompt": "a kite", "webhook_url": receiver.url}, format="json"
    ).json()
    wait_for_task(alice_api, task["task_id"])
    receiver.wait(1)
    delivery = receiver.deliveries[0]
    headers = {k.lower(): v for k, v in delivery["headers"].items()}
    secret = alice_api.get("/v1/webhooks/secret").json()["secret"]
    assert _verify(secret, headers, delivery["body"])
    assert not _verify("whsec_" + base64.b64encode(b"x" * 32).decode(), headers, delivery["body"])
    payload = json.loads(delivery["body"])
    assert payload["task_id"] == task["task_id"]
    assert payload["status"] == "completed"
    assert payload["files"]["preview"]["format"] == "webp"
    assert "prompt" not in payload


def test_failure_is_delivered_and_retried_until_accepted(alice_api, worker, allow_private, caplog):
    receiver = Receiver(fail_first=2)
    task = alice_api.post(
        "/v1/apps/images/generate",
        {"prompt": "x [[fail:content_blocked]]", "webhook_url": receiver.url},
        format="json",
    ).json()
    wait_for_task(alice_api, task["task_id"])
    receiver.wait(3, timeout=20)
    first, second, third = receiver.deliveries[:3]
    assert json.loads(third["body"])["error"]["code"] == "content_blocked"
    assert first["headers"]["webhook-id"] == third["headers"]["webhook-id"]  # same message, retried
    assert second["headers"]["webhook-timestamp"] <= third["headers"]["webhook-timestamp"]
    # a receiver that is down is logged as one warning per attempt, never as our error
    failed = [r for r in caplog.records if r.getMessage().startswith("generation.webhook.failed")]
    assert len(failed) == 2 and all(r.levelname == "WARNING" and not r.exc_info for r in failed)
    assert not [r for r in caplog.records if r.levelname == "ERROR"]


def test_delivery_connects_to_the_address_it_checked(alice_api, worker, allow_private, monkeypatch):
    """DNS rebinding: the name resolves to the checked address, then to another one. The delivery
    must go to the address that was checked, with the URL's host name in the Host header."""
    import socket

    receiver = Receiver()
    port = receiver.httpd.server_address[1]
    real = socket.getaddrinfo
    lookups = []

    def rebinding(host, *args, **kwargs):
        if host != "hooks.rebind.test":
            return real(host, *args, **kwargs)
        lookups.append(host)
        # the request-time check and the delivery-time check see 127.0.0.1, later lookups 127.0.0.2
        address = "127.0.0.1" if len(lookups) <= 2 else "127.0.0.2"
        return real(address, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", rebinding)
    url = f"http://hooks.rebind.test:{port}/hook"
    task = alice_api.post("/v1/apps/images/generate", {"prompt": "kite", "webhook_url": url}, format="json")
    assert task.status_code == 202, task.content
    wait_for_task(alice_api, task.json()["task_id"])
    receiver.wait(1)
    assert len(lookups) == 2  # nothing resolved the name again after the check
    assert receiver.deliveries[0]["headers"]["Host"] == f"hooks.rebind.test:{port}"


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8080/hook",
        "http://localhost/hook",
        "http://10.1.2.3/hook",
        "http://192.168.0.1/hook",
        "http://169.254.169.254/latest/meta-data",
        "http://[::1]/hook",
        "http://[::ffff:127.0.0.1]/hook",  # IPv4-mapped
        "http://[::127.0.0.1]/hook",  # IPv4-compatible
        "http://[64:ff9b::a9fe:a9fe]/hook",  # NAT64 of 169.254.169.254
        "http://[2002:7f00:1::]/hook",  # 6to4 of 127.0.0.1
        "http://[fec0::1]/hook",  # deprecated site-local, which Python calls global
        "http://[feff:ffff::1]/hook",  # the end of fec0::/10
        "http://[fc00::1]/hook",  # unique local
        "http://[fe80::1]/hook",
        "http://[ff0e::1]/hook",  # global-scope multicast
        "http://[5f00::1]/hook",  # reserved
        "http://[3fff::1]/hook",  # documentation (RFC 9637)
        "http://[2001:db8::1]/hook",
        "http://[2001:0:4136:e378:8000:63bf:3fff:fdd2]/hook",  # Teredo
        "http://[100::1]/hook",  # discard-only
        "http://[::]/hook",
        "http://0.0.0.0/hook",
        "http://100.64.0.1/hook",  # carrier-grade NAT
        "http://192.0.0.8/hook",
        "http://192.88.99.1/hook",
        "http://198.18.0.1/hook",
        "http://224.0.0.1/hook",
        "http://240.0.0.1/hook",
        "http://255.255.255.255/hook",
        "http://example.com:99999/hook",  # a port out of range
        "ftp://example.com/hook",
        "file:///etc/passwd",
    ],
)
def test_private_and_non_http_urls_are_refused(alice_api, url):
    with pytest.raises(WebhookRefused):
        check_webhook_url(url)
    response = alice_api.post("/v1/apps/images/generate", {"prompt": "x", "webhook_url": url}, format="json")
    assert response.status_code == 400
    assert response.json()["error"]["field"] == "webhook_url"


@pytest.mark.parametrize("address", ["1.1.1.1", "93.184.215.14", "2606:4700:4700::1111", "2a00:1450::1"])
def test_public_addresses_are_accepted(address):
    host = f"[{address}]" if ":" in address else address
    assert check_webhook_url(f"https://{host}/hook").address == address


def test_signature_matches_the_standard_webhooks_reference():
    # Standard Webhooks' documented example: msg_p5jXN8AQM9LWM0D4loKWxJek, timestamp 1614265330.
    secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    body = b'{"test": 2432232314}'
    assert sign(secret, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body) == (
        "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
    )
