"""A local server that speaks SerpApi's search protocol for reverse image search.

Like the real service, it fetches the image from the URL it is given (``image_url`` for
google_reverse_image, ``url`` for google_lens) before answering, and records what that fetch
returned, so tests can prove the shared link works while the task runs and not afterwards.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

import requests

SAMPLE_RESULTS = {
    "search_metadata": {"id": "local", "status": "Success"},
    "image_results": [
        {
            "position": 1,
            "title": "A lighthouse at dusk",
            "link": "https://example.org/lighthouse",
            "displayed_link": "example.org",
            "snippet": "...",
        },
        {
            "position": 2,
            "title": "Coastal photography",
            "link": "https://photos.example.com/coast",
            "displayed_link": "photos.example.com",
        },
    ],
    "inline_images": [
        {
            "link": "https://images.example.net/a",
            "source": "images.example.net",
            "thumbnail": "https://thumbs.example.net/a.jpg",
            "original": "https://images.example.net/a.jpg",
            "title": "Similar picture",
            "original_width": 1200,
            "original_height": 800,
        },
    ],
}


class SerpApiServer:
    def __init__(self) -> None:
        self.requests: list[dict] = []
        self.fetches: list[dict] = []
        self.mode = "results"  # results | no_results | error_503 | error_401 | error_429
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                pass

            def do_GET(self) -> None:
                parsed = urlparse(self.path)
                if parsed.path not in {"/search", "/search.json"}:
                    self._json(404, {"error": "Not found"})
                    return
                params = {k: v[-1] for k, v in parse_qs(parsed.query).items()}
                server.requests.append(params)
                image_url = params.get("image_url") or params.get("url")
                if image_url:
                    try:
                        fetched = requests.get(image_url, timeout=10)
                        server.fetches.append(
                            {
                                "url": image_url,
                                "status": fetched.status_code,
                                "type": fetched.headers.get("Content-Type"),
                                "body": fetched.content,
                            }
                        )
                    except requests.RequestException as exc:
                        server.fetches.append({"url": image_url, "status": None, "error": str(exc)})
                if params.get("api_key") != "serp-test-key":
                    self._json(
                        401,
                        {
                            "error": "Invalid API key. Your API key should be here: https://serpapi.com/manage-api-key"
                        },
                    )
                elif server.mode == "error_503":
                    self._json(
                        503,
                        {
                            "search_metadata": {"status": "Error"},
                            "error": "We couldn't get valid results for this search. Please try again later.",
                        },
                    )
                elif server.mode == "error_429":
                    self._json(429, {"error": "Your account has run out of searches."})
                elif server.mode == "no_results":
                    self._json(
                        200,
                        {
                            "search_metadata": {"status": "Success"},
                            "error": "Google hasn't returned any results for this query.",
                        },
                    )
                else:
                    self._json(200, SAMPLE_RESULTS)

            def _json(self, status: int, body: dict) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._httpd.server_address[1]}"

    def start(self) -> SerpApiServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
