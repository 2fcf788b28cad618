"""Reverse image search through SerpApi (engine ``google_reverse_image``, or ``google_lens``).

SerpApi fetches the image itself from the short-lived shared link we give it. The answer is
normalised to a small list of results (title, link, source, thumbnail, width, height); a 200
carrying ``error`` means "no results" and is a clean, empty outcome, not a failure.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import requests

from .conf import conf
from .providers.base import ErrorCode, ProviderError

logger = logging.getLogger(__name__)

MAX_RESULTS = 30
ENGINES = {"google_reverse_image": "image_url", "google_lens": "url"}


@dataclass(frozen=True)
class SearchOutcome:
    results: list[dict]
    message: str | None


def is_available() -> bool:
    return bool(conf().SERPAPI_API_KEY)


def _normalise(item: dict) -> dict | None:
    link = item.get("link") or item.get("original")
    if not isinstance(link, str) or not link.startswith(("http://", "https://")):
        return None
    image = item.get("image") if isinstance(item.get("image"), dict) else {}
    return {
        "title": str(item.get("title") or "")[:300],
        "link": link,
        "source": str(item.get("source") or item.get("displayed_link") or "")[:200],
        "thumbnail": item.get("thumbnail") if str(item.get("thumbnail", "")).startswith("http") else None,
        "width": item.get("original_width") or image.get("width"),
        "height": item.get("original_height") or image.get("height"),
    }


def _results(data: dict) -> list[dict]:
    items: list = []
    for key in ("visual_matches", "image_results", "inline_images", "exact_matches"):
        value = data.get(key)
        if isinstance(value, list):
            items.extend(v for v in value if isinstance(v, dict))
    seen: set[str] = set()
    results = []
    for item in items:
        normalised = _normalise(item)
        if normalised and normalised["link"] not in seen:
            seen.add(normalised["link"])
            results.append(normalised)
        if len(results) >= MAX_RESULTS:
            break
    return results


def search_by_image(image_url: str) -> SearchOutcome:
    settings = conf()
    engine = settings.SERPAPI_ENGINE if settings.SERPAPI_ENGINE in ENGINES else "google_reverse_image"
    params = {"engine": engine, ENGINES[engine]: image_url, "api_key": settings.SERPAPI_API_KEY}
    try:
        response = requests.get(
            settings.SERPAPI_BASE_URL.rstrip("/") + "/search.json",
            params=params,
            timeout=settings.SERPAPI_TIMEOUT,
        )
    except requests.Timeout as exc:
        raise ProviderError(
            ErrorCode.PROVIDER_TIMEOUT, "The image search took too long.", retryable=True
        ) from exc
    except requests.RequestException as exc:
        raise ProviderError(
            ErrorCode.PROVIDER_UNAVAILABLE, "The image search service could not be reached.", retryable=True
        ) from exc
    try:
        data = response.json()
    except ValueError:
        data = {}
    error = data.get("error") if isinstance(data, dict) else None
    if response.status_code == 401 or response.status_code == 403:
        raise ProviderError(ErrorCode.PROVIDER_UNAVAILABLE, "The image search service rejected our API key.")
    if response.status_code == 429:
        raise ProviderError(ErrorCode.QUOTA_EXCEEDED, "The image search quota is used up; try again later.")
    if response.status_code >= 500:
        raise ProviderError(
            ErrorCode.PROVIDER_UNAVAILABLE,
            "The image search service failed; please try again.",
            retryable=True,
        )
    if response.status_code != 200 or not isinstance(data, dict):
        raise ProviderError(
            ErrorCode.INVALID_REQUEST,
            f"The image search refused the request ({error or response.status_code}).",
        )
    results = _results(data)
    message = None
    if not results:
        message = "No similar images were found on the web." if error is None else f"No results: {error}"
    logger.info("generation.reverse_search.done results=%s", len(results))
    return SearchOutcome(results=results, message=message)
