"""Test data built the way the product builds it: users, API keys, embeds and tasks through actions.

factory-boy factories for the nouns the suite needs again and again. Embeds are made by the
upload action (so they are encrypted, labelled and stored exactly as a user's upload), never by
writing rows; an API key through ``do_create_api_key`` (so only its hash is stored); a task
through the generate action (so its limits, embed placeholder and queueing are the real ones).
"""

from __future__ import annotations

import io

import factory
from django.contrib.auth import get_user_model
from PIL import Image

PASSWORD = "pw-12345678"


def png_bytes(size: tuple[int, int] = (800, 600), color: tuple[int, int, int] = (200, 30, 40)) -> bytes:
    """A plain PNG of one colour: the smallest real image the pipeline accepts."""
    buffer = io.BytesIO()
    Image.new("RGB", size, color).save(buffer, "PNG")
    return buffer.getvalue()


class UserFactory(factory.django.DjangoModelFactory):
    """A user who can log in with ``PASSWORD``."""

    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)

    username = factory.Sequence(lambda n: f"user{n}")

    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        return model_class.objects.create_user(*args, password=PASSWORD, **kwargs)


class ApiKeyFactory(factory.Factory):
    """A new API key of a user, as ``do_create_api_key`` makes it: ``.raw_key`` is shown once."""

    class Meta:
        model = dict  # the action's result is what the test gets

    owner = factory.SubFactory(UserFactory)

    @classmethod
    def _create(cls, model_class, owner, **_):
        from accounts.api_keys import do_create_api_key

        return do_create_api_key(owner)


class UploadedImageFactory(factory.Factory):
    """A finished image embed made by the upload action: stripped, three renditions, sealed."""

    class Meta:
        model = dict

    owner = factory.SubFactory(UserFactory)
    data = factory.LazyFunction(png_bytes)
    file_name = "upload.png"
    derived_from = None

    @classmethod
    def _create(cls, model_class, owner, data, file_name, derived_from, **_):
        from embeds.actions import do_create_upload_embed

        return do_create_upload_embed(owner, data, file_name=file_name, derived_from=derived_from)


class GenerationTaskFactory(factory.Factory):
    """A queued text-to-image task and its placeholder embed, made by the generate action
    (limits checked, fingerprinted, queued on commit like a REST request). Returns the Task."""

    class Meta:
        model = dict

    owner = factory.SubFactory(UserFactory)
    prompt = factory.Sequence(lambda n: f"a lighthouse at dusk, study {n}")
    aspect_ratio = "1:1"
    model_id = None  # the default model (the offline generator in tests)
    seed = None

    @classmethod
    def _create(cls, model_class, owner, prompt, aspect_ratio, model_id, seed, **_):
        from generation.actions import GenerationParams, check_create_generation
        from generation.registry import default_model, find_model

        spec = find_model(model_id) if model_id else default_model()
        params = GenerationParams(prompt=prompt, aspect_ratio=aspect_ratio, model=spec, seed=seed)
        task, _created = check_create_generation(owner, params)
        return task


def gallery_images(owner, count: int, *, crops_every: int = 20) -> list:
    """``count`` finished images of ``owner`` for the gallery, oldest first, each made by the
    upload action (one in every ``crops_every``, from the middle of each run on, a crop of the
    one before, by the crop action, so the kind filter has edits to find; the newest is an
    upload). Small (48×36, each its own colour), so 200 take seconds."""
    from embeds.actions import do_crop_embed

    made: list = []
    for index in range(count):
        if made and crops_every and index % crops_every == crops_every // 2:
            made.append(do_crop_embed(owner, made[-1], (0, 0, 24, 18)))
            continue
        color = ((index * 37) % 256, (index * 91) % 256, (index * 53 + 80) % 256)
        made.append(
            UploadedImageFactory(owner=owner, data=png_bytes((48, 36), color), file_name=f"photo-{index}.png")
        )
    return made
