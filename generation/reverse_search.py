"""Reverse image search through SerpApi: engine ``google_lens`` (``url=``) by default.

SerpApi's ``google_reverse_image`` engine stopped returning results in 2026 (serpapi/public-
roadmap#4061); it stays selectable with ``SERPAPI_ENGINE`` but is never a fallback: what was
configured is what runs, and its empty answer says so. SerpApi fetches the image itself from the
short-lived shared link we give it. The answer is normalised to a small list of results: Lens's
``exact_matches`` first (flagged ``exact``), then its ``visual_matches`` (title, link, source,
source icon, thumbnail, image, ``image_width``/``image_height``); the old engine's arrays are
read too. A 200 carrying ``error`` means "no results" and is a clean, empty outcome.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import requests

from embeds.content import SearchResult

from .conf import conf
from .providers.base import ErrorCode, ProviderError

logger = logging.getLogger(__name__)

MAX_RESULTS = 30
ENGINES = {"google_lens": "url", "google_reverse_image": "image_url"}
DEAD_ENGINES = {"google_reverse_image"}


@dataclass(frozen=True)
class SearchOutcome:
    results: list[SearchResult]
    message: str | None


def is_available() -> bool:
    """Whether a search can be asked for: a key is set and SerpApi can fetch our image."""
    from .availability import search_unavailable_reason

    return search_unavailable_reason() is None


def _url(value: object) -> str | None:
    return value if isinstance(value, str) and value.startswith(("http://", "https://")) else None


def _pixels(item: dict, *names: str) -> int | None:
    for name in names:
        value = item.get(name)
        if isinstance(value, int) and value > 0:
            return value
    return None


def _normalise(item: dict, *, exact: bool) -> SearchResult | None:
    link = _url(item.get("link")) or _url(item.get("original"))
    if link is None:
        return None
    return SearchResult(
        title=str(item.get("title") or "")[:300],
        link=link,
        source=str(item.get("source") or item.get("displayed_link") or "")[:200],
        source_icon=_url(item.get("source_icon")),
        thumbnail=_url(item.get("thumbnail")),
        image=_url(item.get("image")) or _url(item.get("original")),
        width=_pixels(item, "image_width", "actual_image_width", "original_width"),
        height=_pixels(item, "image_height", "actual_image_height", "original_height"),
        exact=exact,
    )


def _results(data: dict) -> list[SearchResult]:
    items: list[tuple[dict, bool]] = []
    for key in ("exact_matches", "visual_matches", "image_results", "inline_images"):
        value = data.get(key)
        if isinstance(value, list):
            items.extend((v, key == "exact_matches") for v in value if isinstance(v, dict))
    seen: set[str] = set()
    results = []
    for item, exact in items:
        normalised = _normalise(item, exact=exact)
        if normalised and normalised.link not in seen:
            seen.add(normalised.link)
            results.append(normalised)
        if len(results) >= MAX_RESULTS:
            break
    return results


def search_by_image(image_url: str) -> SearchOutcome:
    settings = conf()
    engine = settings.SERPAPI_ENGINE
    if engine not in ENGINES:
        raise ProviderError(
            ErrorCode.PROVIDER_UNAVAILABLE,
            f"SERPAPI_ENGINE {engine!r} is not supported; use google_lens (or google_reverse_image).",
        )
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
        if engine in DEAD_ENGINES:
            message += (
                f" (SerpApi's {engine} engine no longer returns results; set SERPAPI_ENGINE=google_lens.)"
            )
    logger.info("generation.reverse_search.done results=%s", len(results))
    return SearchOutcome(results=results, message=message)
