"""A local server that speaks SerpApi's search protocol for reverse image search.

As SerpApi behaves in December 2026 (shared/research/providers.md, corrections of 2026-12-01):

- ``engine=google_lens`` takes the image as ``url=`` and answers ``visual_matches[]`` with
  today's fields (``position``, ``title``, ``link``, ``source``, ``source_icon``, ``thumbnail``,
  ``image`` as a URL string, ``image_width``, ``image_height``), and ``exact_matches[]`` when it
  has any (``actual_image_width`` / ``actual_image_height``);
- ``engine=google_reverse_image`` still answers, but no longer returns results: a 200 whose
  ``search_metadata.status`` is "Success" with a top-level ``error`` and no result arrays
  (serpapi/public-roadmap#4061);
- an unknown engine is a 400; a wrong key the real 401; ``mode`` "error_503" / "error_429" /
  "no_results" give SerpApi's failure, quota and empty answers.

Like the real service, it fetches the image from the URL it is given before answering, and
records what that fetch returned (``fetches``), so tests can prove the shared link works while
the task runs and not afterwards. ``requests`` holds each search's query parameters.
"""

from __future__ import annotations

import requests as http

from tests.fakes.http import LocalHTTPServer

API_KEY = "serp-test-key"
LENS_RESULTS = {
    "search_metadata": {
        "id": "6750f7a1c2d3e4f5a6b7c8d9",
        "status": "Success",
        "json_endpoint": "https://serpapi.com/searches/6750f7a1c2d3e4f5a6b7c8d9.json",
        "total_time_taken": 2.81,
    },
    "search_parameters": {"engine": "google_lens", "url": "…", "hl": "en"},
    "visual_matches": [
        {
            "position": 1,
            "title": "A lighthouse at dusk",
            "link": "https://example.org/lighthouse",
            "source": "example.org",
            "source_icon": "https://encrypted-tbn1.gstatic.com/faviconV2?url=https://example.org",
            "thumbnail": "https://encrypted-tbn2.gstatic.com/images?q=tbn:lighthouse",
            "thumbnail_width": 300,
            "thumbnail_height": 200,
            "image": "https://example.org/images/lighthouse.jpg",
            "image_width": 1600,
            "image_height": 1067,
        },
        {
            "position": 2,
            "title": "Coastal photography",
            "link": "https://photos.example.com/coast",
            "source": "photos.example.com",
            "source_icon": "https://encrypted-tbn3.gstatic.com/faviconV2?url=https://photos.example.com",
            "thumbnail": "https://encrypted-tbn0.gstatic.com/images?q=tbn:coast",
            "image": "https://photos.example.com/coast.jpg",
            "image_width": 1200,
            "image_height": 800,
        },
        {"position": 3, "title": "No link, dropped", "source": "nowhere"},
    ],
    "exact_matches": [
        {
            "position": 1,
            "title": "The very same picture",
            "link": "https://images.example.net/a",
            "source": "images.example.net",
            "source_icon": "https://encrypted-tbn1.gstatic.com/faviconV2?url=https://images.example.net",
            "thumbnail": "https://encrypted-tbn1.gstatic.com/images?q=tbn:same",
            "actual_image_width": 320,
            "actual_image_height": 240,
        }
    ],
    "related_content": [{"query": "Lighthouse", "link": "https://www.google.com/search?q=Lighthouse"}],
}
DEAD_ENGINE_ANSWER = {
    "search_metadata": {"id": "6750f7a1c2d3e4f5a6b7c8da", "status": "Success"},
    "search_parameters": {"engine": "google_reverse_image"},
    "search_information": {"query_displayed": ""},
    "error": "Google hasn't returned any results for this query.",
}
ENGINE_PARAMETER = {"google_lens": "url", "google_reverse_image": "image_url"}


class SerpApiServer(LocalHTTPServer):
    def __init__(self) -> None:
        super().__init__()
        self.fetches: list[dict] = []
        self.mode = "results"  # results | no_results | error_503 | error_429
        self.searches: list[dict] = []

    def handle(self, handler, record: dict) -> None:
        if record["method"] != "GET" or record["path"] not in {"/search", "/search.json"}:
            handler.reply(404, {"error": "Not found"})
            return
        params = record["query"]
        self.searches.append(params)
        engine = params.get("engine")
        if engine not in ENGINE_PARAMETER:
            handler.reply(400, {"error": f"Unsupported `{engine}` search engine."})
            return
        image_url = params.get(ENGINE_PARAMETER[engine])
        if not image_url:
            missing = ENGINE_PARAMETER[engine]
            handler.reply(400, {"error": f"Missing query `{missing}` parameter."})
            return
        self._fetch(image_url)
        if params.get("api_key") != API_KEY:
            handler.reply(
                401,
                {"error": "Invalid API key. Your API key should be here: https://serpapi.com/manage-api-key"},
            )
        elif self.mode == "error_503":
            handler.reply(
                503,
                {
                    "search_metadata": {"status": "Error"},
                    "error": "We couldn't get valid results for this search. Please try again later.",
                },
            )
        elif self.mode == "error_429":
            handler.reply(429, {"error": "Your account has run out of searches."})
        elif engine == "google_reverse_image":
            handler.reply(200, DEAD_ENGINE_ANSWER)
        elif self.mode == "no_results":
            handler.reply(
                200,
                {
                    "search_metadata": {"status": "Success"},
                    "error": "Google Lens hasn't returned any matches for this image.",
                },
            )
        else:
            handler.reply(200, LENS_RESULTS)

    def _fetch(self, image_url: str) -> None:
        try:
            fetched = http.get(image_url, timeout=10)
            self.fetches.append(
                {
                    "url": image_url,
                    "status": fetched.status_code,
                    "type": fetched.headers.get("Content-Type"),
                    "body": fetched.content,
                }
            )
        except http.RequestException as exc:
            self.fetches.append({"url": image_url, "status": None, "error": str(exc)})
