"""The pipeline's stages: each a function of explicit inputs to outputs.

No stage writes a database row or tells anyone anything: progress, cancel polling, the task's
state (``generation.lifecycle``) and clean-up belong to the runner, which calls these in order.
A stage may read (the source image of an edit), encrypt (``sealing``) and write objects under
the embed's derived names, which a retry overwrites. ``content`` is the embed's decrypted
content being built: the stages that add to it say so, and the runner seals it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

from django.utils import timezone

from embeds import imaging, sealing
from embeds.content import EmbedContent, Files, ImageContent, Label, ProviderResult, SearchResultsContent
from embeds.imaging.compositing import composite_through_mask
from embeds.models import Embed
from embeds.storage import ObjectMissing

from .. import shared_links
from ..models import Task
from ..providers.base import ErrorCode, GenerationRequest, ProviderError
from ..registry import ModelSpec, provider_for
from ..reverse_search import search_by_image

STAGING = "staging"


@dataclass(frozen=True)
class ProviderOutput:
    """What the provider made, with a mask already applied (no provider honours one)."""

    image: bytes
    mime: str
    model_version: str | None
    seed: int | None
    usage: dict


def build_request(
    task: Task, spec: ModelSpec, content: ImageContent, opened: sealing.OpenEmbed
) -> GenerationRequest:
    """The provider request. An edit loads its source (pixels only) and mask, and for fal, which
    fetches its input by URL, publishes a stripped copy briefly under the task's embed. The
    references are loaded the same way, re-encoded to pixels only (``clean_image_bytes``): no
    metadata of the user's images reaches a provider."""
    source_image = mask = source_url = None
    if task.kind == Task.Kind.EDIT:
        source = Embed.objects.filter(pk=content.derived_from, owner_id=task.owner_id).first()
        if source is None:
            raise ProviderError(ErrorCode.INVALID_REQUEST, "The image to edit no longer exists.")
        source_image = imaging.clean_image_bytes(sealing.open_embed(source).load_file("original"))
        if spec.provider == "fal":  # fal fetches its input by URL: publish a stripped copy briefly
            source_url = shared_links.publish_copy(source, task.embed, task.id)
        try:
            mask = opened.load_file("mask")
        except ObjectMissing:
            mask = None
    return GenerationRequest(
        references=tuple(
            imaging.clean_image_bytes(sealing.open_embed(reference).load_file("original"))
            for reference in load_references(task, content)
        ),
        prompt=content.prompt,
        aspect_ratio=content.aspect_ratio,
        provider_model=spec.provider_model,
        seed=content.seed,
        image_size=content.image_size or "1K",
        source_image=source_image,
        mask=mask,
        source_image_url=source_url,
        timeout=spec.timeout_seconds,
    )


def load_references(task: Task, content: ImageContent) -> list[Embed]:
    """The task's reference images, in the order the user named them (the owner's own only)."""
    ids = list(content.reference_embed_ids or ())
    if not ids:
        return []
    found = {str(e.id): e for e in Embed.objects.filter(pk__in=ids, owner_id=task.owner_id)}
    if len(found) != len(ids):
        raise ProviderError(ErrorCode.INVALID_REQUEST, "A reference image no longer exists.")
    return [found[embed_id] for embed_id in ids]


def call_provider(
    spec: ModelSpec,
    request: GenerationRequest,
    *,
    report: Callable[..., None],
    is_cancelled: Callable[[], bool],
) -> ProviderOutput:
    """The one paid call. ``report`` and ``is_cancelled`` are the runner's (progress, cancel)."""
    result = provider_for(spec).generate(request, report=report, is_cancelled=is_cancelled)
    image = result.data
    if request.mask is not None:  # no provider honours a mask: keep every pixel outside it
        image = composite_through_mask(request.source_image, image, request.mask)
    return ProviderOutput(
        image=image,
        mime=result.mime,
        model_version=result.model_version,
        seed=result.seed,
        usage=result.usage or {},
    )


def stage_result(opened: sealing.OpenEmbed, content: ImageContent, output: ProviderOutput) -> ImageContent:
    """Keep the provider's answer as an encrypted staging object; returns the content saying
    what it was (sealed into ``opened.embed``, for the runner to persist), so a retry never pays
    again."""
    opened.store_file(STAGING, output.image)
    content = replace(
        content,
        provider=ProviderResult(mime=output.mime, model_version=output.model_version, seed=output.seed),
        seed=output.seed if content.seed is None else content.seed,
    )
    opened.seal_content(content)
    return content


def load_staged(opened: sealing.OpenEmbed) -> bytes:
    """The provider's answer an earlier attempt kept."""
    return opened.load_file(STAGING)


def build_label(
    spec: ModelSpec, task: Task, content: ImageContent, *, keep_prompt: bool
) -> tuple[imaging.AiLabel, ImageContent]:
    """The IPTC/C2PA label of a generated image (a composite, with its references as C2PA
    ingredients, when it was made from the user's images), and the content keeping it
    (encrypted) so that a crop of this image carries the very same label."""
    task_kind = task.kind
    label = Label(
        model_name=spec.provider_model,
        model_version=content.model_version,
        prompt=content.prompt if keep_prompt else None,
        composite=content.composite,
    )
    actions = ("c2pa.edited",) if task_kind == Task.Kind.EDIT else ()
    return replace(
        label.for_image(actions=actions), ingredients=reference_ingredients(task, content)
    ), replace(content, ai_label=label)


def reference_ingredients(task: Task, content: ImageContent) -> tuple[imaging.Ingredient, ...]:
    """The references as C2PA ingredients: each one's stored full WEBP, which carries its own
    Content Credentials when it has them (an AI image of ours), so the new manifest names them."""
    ingredients = []
    for index, reference in enumerate(load_references(task, content), start=1):
        opened = sealing.open_embed(reference)
        meta = (opened.image().files or {}).get("full")
        if meta is None:
            continue
        ingredients.append(
            imaging.Ingredient(
                title=f"Reference image {index}", mime=meta.media_type, data=opened.load_file("full")
            )
        )
    return tuple(ingredients)


def render(image: bytes, label: imaging.AiLabel) -> dict:
    """Original (pixels untouched) + full + preview, labelled and signed."""
    return imaging.render_generated(image, label)


def store(opened: sealing.OpenEmbed, renditions: dict) -> Files:
    """Encrypt and store the renditions (names derived from the embed id: a retry overwrites);
    returns their files' metadata."""
    return opened.store_renditions(renditions)


def seal_image(opened: sealing.OpenEmbed, content: ImageContent, files: Files) -> ImageContent:
    """The final content of a generated image, sealed into ``opened.embed``."""
    content = replace(content, files=files, generated_at=timezone.now().isoformat())
    opened.seal_content(content)
    return content


def seal(opened: sealing.OpenEmbed, content: EmbedContent) -> None:
    """Seal the final content of a search or an answer into ``opened.embed``."""
    opened.seal_content(content)


def search(task: Task, content: SearchResultsContent) -> SearchResultsContent:
    """Reverse image search: publish a stripped copy briefly, ask SerpApi; returns the content
    with the results."""
    source = Embed.objects.filter(pk=content.source_embed_id, owner_id=task.owner_id).first()
    if source is None:
        raise ProviderError(ErrorCode.INVALID_REQUEST, "The image to search for no longer exists.")
    url = shared_links.publish_copy(source, task.embed, task.id)
    results = search_by_image(url)
    return replace(
        content, results=results.results, message=results.message, searched_at=timezone.now().isoformat()
    )
