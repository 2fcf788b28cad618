"""System checks for provider settings that would only fail later, inside a paid task."""

from __future__ import annotations

from django.core import checks


@checks.register(checks.Tags.compatibility)
def provider_settings(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    from .availability import edit_unavailable_reason, search_unavailable_reason
    from .conf import conf
    from .reverse_search import ENGINES

    settings = conf()
    found: list[checks.CheckMessage] = []
    if reason := edit_unavailable_reason("fal"):
        found.append(
            checks.Warning(
                f"fal.ai edits cannot work: {reason}",
                hint="fal fetches the image to edit from a short-lived link under PUBLIC_BASE_URL.",
                id="generation.W001",
            )
        )
    if settings.SERPAPI_API_KEY and (reason := search_unavailable_reason()):
        found.append(
            checks.Warning(
                f"Reverse image search cannot work: {reason}",
                hint="SerpApi fetches the image from a short-lived link under PUBLIC_BASE_URL.",
                id="generation.W002",
            )
        )
    if settings.SERPAPI_ENGINE not in ENGINES:
        found.append(
            checks.Error(
                f"SERPAPI_ENGINE {settings.SERPAPI_ENGINE!r} is not supported.",
                hint="Use google_lens (google_reverse_image no longer returns results).",
                id="generation.E001",
            )
        )
    return found
