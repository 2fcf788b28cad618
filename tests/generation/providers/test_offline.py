"""The offline procedural provider: deterministic, ~1 MP for every aspect ratio, keyword palettes,
masked edits, and the [[fail:...]] / [[sleep:...]] hooks the pipeline tests rely on."""

from __future__ import annotations

import io
import statistics
import threading
import time

import pytest
from PIL import Image, ImageChops, ImageDraw, ImageFilter, ImageStat

from generation.providers.base import Cancelled, ErrorCode, GenerationRequest, ProviderError
from generation.providers.offline import MODEL_VERSION, OfflineProvider
from generation.providers.sizes import SIZES_1K, dimensions_for
from generation.registry import ASPECT_RATIOS

provider = OfflineProvider(prompt_hooks=True)


def make(prompt="a red fox in a meadow", aspect="1:1", **kwargs) -> GenerationRequest:
    return GenerationRequest(prompt=prompt, aspect_ratio=aspect, provider_model="procedural-1", **kwargs)


def decode(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


def mean_difference(a: Image.Image, b: Image.Image) -> float:
    return statistics.fmean(ImageStat.Stat(ImageChops.difference(a.convert("RGB"), b.convert("RGB"))).mean)


def png_bytes(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


# --- generation ------------------------------------------------------------------------------------


def test_same_prompt_and_seed_give_identical_bytes():
    first = provider.generate(make(seed=42))
    second = provider.generate(make(seed=42))
    assert first.data == second.data
    assert first.mime == "image/png" and first.data.startswith(b"\x89PNG\r\n\x1a\n")
    assert first.model_version == MODEL_VERSION == "procedural-1"
    assert first.seed == 42


def test_different_seed_or_prompt_gives_a_visibly_different_image():
    base = decode(provider.generate(make(seed=1)).data)
    other_seed = decode(provider.generate(make(seed=2)).data)
    other_prompt = decode(provider.generate(make("a lighthouse on the coast", seed=1)).data)
    assert mean_difference(base, other_seed) > 8
    assert mean_difference(base, other_prompt) > 8


def test_without_a_seed_one_is_derived_from_the_prompt_and_reproduces_the_image():
    unseeded = provider.generate(make("harbour at dusk"))
    assert isinstance(unseeded.seed, int)
    assert provider.generate(make("harbour at dusk")).data == unseeded.data
    assert provider.generate(make("harbour at dusk", seed=unseeded.seed)).data == unseeded.data


@pytest.mark.parametrize("aspect", ASPECT_RATIOS)
def test_every_aspect_ratio_is_about_one_megapixel_with_the_right_shape(aspect):
    started = time.process_time()
    result = provider.generate(make("mountains at sunset", aspect, seed=7))
    cpu_seconds = time.process_time() - started
    image = decode(result.data)
    assert image.size == dimensions_for(aspect) == SIZES_1K[aspect]
    width, height = image.size
    assert 0.95e6 <= width * height <= 1.1e6
    assert width % 16 == 0 and height % 16 == 0
    ratio_w, ratio_h = (int(x) for x in aspect.split(":"))
    error = abs(width / height - ratio_w / ratio_h) / (ratio_w / ratio_h)
    # 16:9 and 9:16 keep Gemini's own 1344×768 (1.6% off); all the others are within 1%.
    assert error < (0.016 if aspect in ("16:9", "9:16") else 0.01), (aspect, error)
    # A real picture, not a flat fill: many colours and real contrast.
    assert len(image.convert("RGB").resize((256, 256)).getcolors(65536) or []) > 2000
    assert statistics.fmean(ImageStat.Stat(image.convert("L")).stddev) > 15
    assert cpu_seconds < 1.0  # ~0.1-0.15 s on the 2-core dev box (CPU time: robust to load)


def test_bigger_sizes_scale_the_1k_table():
    assert dimensions_for("16:9", "2K") == (2688, 1536)
    assert dimensions_for("1:1", "4K") == (4096, 4096)
    with pytest.raises(ValueError):
        dimensions_for("7:3")
    with pytest.raises(ProviderError) as raised:
        provider.generate(make(aspect="7:3"))
    assert raised.value.code == ErrorCode.INVALID_REQUEST


def test_keywords_choose_the_palette():
    night = decode(provider.generate(make("a starry night over the city", seed=3)).data).convert("L")
    day = decode(provider.generate(make("a sunny day over the city", seed=3)).data).convert("L")
    top = (0, 0, 1024, 400)
    assert ImageStat.Stat(night.crop(top)).mean[0] + 60 < ImageStat.Stat(day.crop(top)).mean[0]


def test_progress_is_reported_and_rises():
    reports: list[dict] = []
    provider.generate(make(seed=5), report=lambda **kw: reports.append(kw))
    progress = [r["progress"] for r in reports]
    assert len(reports) >= 3 and all(r["stage"] == "generating" for r in reports)
    assert progress == sorted(progress) and progress[-1] == 100


def test_cancellation_between_painting_stages():
    checks = {"count": 0}

    def is_cancelled() -> bool:
        checks["count"] += 1
        return checks["count"] >= 2

    with pytest.raises(Cancelled):
        provider.generate(make(seed=5), is_cancelled=is_cancelled)


# --- test hooks ------------------------------------------------------------------------------------


def test_hooks_are_plain_words_unless_enabled():
    """Off by default (production): a user cannot pin a worker or forge an error code."""
    production = OfflineProvider()
    started = time.monotonic()
    result = production.generate(make("x [[sleep:30]] [[fail:content_blocked]]", seed=3))
    assert time.monotonic() - started < 10 and result.data.startswith(b"\x89PNG")
    assert result.data != provider.generate(make("x", seed=3)).data  # the tokens are prompt text


@pytest.mark.parametrize(
    ("code", "retryable"),
    [
        ("content_blocked", False),
        ("invalid_request", False),
        ("internal", False),
        ("provider_unavailable", True),
        ("provider_timeout", True),
        ("quota_exceeded", True),
    ],
)
def test_fail_token_raises_the_code(code, retryable):
    with pytest.raises(ProviderError) as raised:
        provider.generate(make(f"a cat [[fail:{code}]]"))
    assert raised.value.code == code
    assert raised.value.retryable is retryable
    assert raised.value.retry_after is None


def test_fail_token_with_retry_after_and_unknown_codes():
    with pytest.raises(ProviderError) as raised:
        provider.generate(make("a cat [[fail:quota_exceeded:7.5]]"))
    assert (raised.value.code, raised.value.retryable, raised.value.retry_after) == (
        "quota_exceeded",
        True,
        7.5,
    )
    with pytest.raises(ProviderError) as raised:
        provider.generate(make("a cat [[fail:banana]]"))
    assert raised.value.code == ErrorCode.INTERNAL
    with pytest.raises(Cancelled):
        provider.generate(make("a cat [[fail:cancelled]]"))
    # Not the exact token: an ordinary prompt.
    assert provider.generate(make("a cat [fail:internal]")).data


def test_fail_token_for_one_seed_fails_only_that_variant():
    prompt = "a cat [[fail:content_blocked@seed=5]]"
    with pytest.raises(ProviderError) as raised:
        provider.generate(make(prompt, seed=5))
    assert raised.value.code == "content_blocked"
    assert provider.generate(make(prompt, seed=6)).seed == 6


def test_different_seeds_paint_different_pictures():
    first, second = (provider.generate(make("a lighthouse at dawn", seed=s)).data for s in (1, 2))
    assert ImageChops.difference(decode(first).convert("RGB"), decode(second).convert("RGB")).getbbox()


def test_sleep_token_waits_reporting_progress_with_an_eta():
    reports: list[dict] = []
    started = time.monotonic()
    provider.generate(make("slow [[sleep:0.4]]", seed=1), report=lambda **kw: reports.append(kw))
    assert time.monotonic() - started >= 0.4
    waiting = [r for r in reports if "eta_seconds" in r]
    assert len(waiting) >= 3
    assert [r["progress"] for r in waiting] == sorted(r["progress"] for r in waiting)
    assert waiting[0]["eta_seconds"] > waiting[-1]["eta_seconds"]


def test_sleep_then_fail_is_a_slow_failure():
    started = time.monotonic()
    with pytest.raises(ProviderError) as raised:
        provider.generate(make("[[sleep:0.2]] [[fail:provider_unavailable]]"))
    assert raised.value.code == ErrorCode.PROVIDER_UNAVAILABLE
    assert time.monotonic() - started >= 0.2


def test_cancel_during_sleep_is_prompt():
    cancel = threading.Event()
    threading.Timer(0.2, cancel.set).start()
    started = time.monotonic()
    with pytest.raises(Cancelled):
        provider.generate(make("slow [[sleep:10]]"), is_cancelled=cancel.is_set)
    assert time.monotonic() - started < 0.6


def test_sleep_beyond_the_request_timeout_is_a_provider_timeout():
    started = time.monotonic()
    with pytest.raises(ProviderError) as raised:
        provider.generate(make("slow [[sleep:10]]", timeout=0.3))
    assert raised.value.code == ErrorCode.PROVIDER_TIMEOUT and raised.value.retryable
    assert 0.3 <= time.monotonic() - started < 1.0


# --- edits -----------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def source() -> bytes:
    return provider.generate(make("a forest lake at dawn", "4:3", seed=11)).data


def rectangle_mask(size, box, *, background=(0, 0, 0), fill=(255, 255, 255), mode="RGB") -> bytes:
    mask = Image.new(mode, size, background)
    ImageDraw.Draw(mask).rectangle(box, fill=fill)
    return png_bytes(mask)


def test_edit_changes_the_masked_area_only(source):
    original = decode(source).convert("RGB")
    box = (400, 300, 700, 600)
    result = provider.generate(
        make("make it purple", "4:3", source_image=source, mask=rectangle_mask(original.size, box))
    )
    edited = decode(result.data).convert("RGB")
    assert edited.size == original.size and result.mime == "image/png"
    inside = (450, 350, 650, 550)
    assert mean_difference(edited.crop(inside), original.crop(inside)) > 20
    # Well away from the mask (beyond the feathered edge), every pixel is untouched.
    for far in ((0, 0, 300, 864), (800, 0, 1152, 864), (0, 700, 1152, 864)):
        assert edited.crop(far).tobytes() == original.crop(far).tobytes()
    assert edited.getpixel((50, 50)) == original.getpixel((50, 50))
    # Purple was asked for: the edited area leans to red and blue over green.
    r, g, b = ImageStat.Stat(edited.crop(inside)).mean
    assert r > g and b > g


def test_edit_is_deterministic_and_follows_the_prompt(source):
    mask = rectangle_mask((1152, 864), (100, 100, 500, 500))
    first = provider.generate(make("a new colour", "4:3", source_image=source, mask=mask, seed=3))
    again = provider.generate(make("a new colour", "4:3", source_image=source, mask=mask, seed=3))
    other = provider.generate(make("make it green", "4:3", source_image=source, mask=mask, seed=3))
    assert first.data == again.data
    inside = (150, 150, 450, 450)
    assert mean_difference(decode(first.data).crop(inside), decode(other.data).crop(inside)) > 5


def test_edit_without_a_mask_changes_the_whole_image(source):
    original = decode(source).convert("RGB")
    edited = decode(provider.generate(make("make it red", "4:3", source_image=source)).data).convert("RGB")
    assert edited.size == original.size
    for corner in ((0, 0, 200, 200), (952, 664, 1152, 864)):
        assert mean_difference(edited.crop(corner), original.crop(corner)) > 20


def test_edit_with_a_transparent_mask_changes_the_opaque_area(source):
    original = decode(source).convert("RGB")
    mask = rectangle_mask(
        original.size, (0, 0, 300, 300), background=(0, 0, 0, 0), fill=(0, 0, 0, 255), mode="RGBA"
    )
    edited = decode(provider.generate(make("make it blue", "4:3", source_image=source, mask=mask)).data)
    assert mean_difference(edited.crop((20, 20, 250, 250)), original.crop((20, 20, 250, 250))) > 20
    far = (500, 400, 1152, 864)
    assert edited.convert("RGB").crop(far).tobytes() == original.crop(far).tobytes()


def test_edit_mask_of_another_size_is_scaled(source):
    original = decode(source).convert("RGB")
    mask = rectangle_mask((288, 216), (0, 0, 144, 216))  # left half, at a quarter of the size
    edited = decode(provider.generate(make("make it gold", "4:3", source_image=source, mask=mask)).data)
    assert mean_difference(edited.crop((50, 50, 500, 800)), original.crop((50, 50, 500, 800))) > 20
    far = (650, 0, 1152, 864)
    assert edited.convert("RGB").crop(far).tobytes() == original.crop(far).tobytes()


def test_edit_rejects_an_empty_mask_and_unreadable_images(source):
    empty = png_bytes(Image.new("L", (1152, 864), 0))
    with pytest.raises(ProviderError) as raised:
        provider.generate(make("x", "4:3", source_image=source, mask=empty))
    assert raised.value.code == ErrorCode.INVALID_REQUEST and "mask" in raised.value.message
    with pytest.raises(ProviderError) as raised:
        provider.generate(make("x", "4:3", source_image=b"not an image"))
    assert raised.value.code == ErrorCode.INVALID_REQUEST


def test_edit_keeps_transparency_of_the_source():
    source = Image.new("RGBA", (200, 100), (10, 200, 30, 255))
    ImageDraw.Draw(source).rectangle((0, 0, 99, 99), fill=(0, 0, 0, 0))
    edited = decode(provider.generate(make("make it red", "2:1", source_image=png_bytes(source))).data)
    assert edited.mode == "RGBA" and edited.size == (200, 100)
    assert edited.getpixel((50, 50))[3] == 0 and edited.getpixel((150, 50))[3] == 255


# --- subjects: the prompt's nouns are in the picture ------------------------------------------------


def share_near(image: Image.Image, color: tuple[int, int, int], spread: float = 22.0) -> float:
    """The share of pixels of ``color``'s hue (within ``spread`` degrees), clearly coloured:
    lighting shifts brightness and tint, not what colour a thing is."""
    import colorsys

    target = colorsys.rgb_to_hsv(*(c / 255 for c in color))[0] * 360
    small = image.convert("HSV").resize((256, 192))
    hits = 0
    for h, s, v in small.getdata():
        distance = abs(h * 360 / 255 - target)
        if min(distance, 360 - distance) <= spread and s > 90 and v > 60:
            hits += 1
    return hits / (256 * 192)


@pytest.mark.parametrize(
    "prompt, color, least",
    [
        ("orange tabby cat", (226, 132, 52), 0.02),
        ("red sports car", (204, 36, 44), 0.02),
        ("a green apple on a table", (50, 180, 80), 0.02),
        ("a lighthouse on a rocky cliff at noon", (214, 48, 52), 0.003),
    ],
)
def test_common_nouns_are_drawn_in_the_colour_asked(prompt, color, least):
    """A subject the prompt names is in the picture, in its colour; the same seed without the
    subject has (next to) none of that colour."""
    for seed in (1, 2, 3):
        with_subject = decode(provider.generate(make(prompt, "4:3", seed=seed)).data)
        assert share_near(with_subject, color) > least, (prompt, seed)


def test_subjects_are_placed_by_the_composition_not_at_random():
    from generation.providers.offline import Painter

    painter = Painter("a dog and a house", 5, 1024, 768)
    assert painter.subjects == ["dog", "house"] and painter.scene in ("forest", "mountains")
    assert Painter("a cat in the desert", 5, 1024, 768).scene == "desert"  # a named scene wins
    assert Painter("lighthouse", 5, 1024, 768).scene == "ocean"
    cat = decode(provider.generate(make("orange tabby cat", "16:9", seed=4)).data).convert("RGB")
    # The cat stands on the lower part of the picture and sits at a third, not in a corner.
    columns = [
        share_near(cat.crop((x, cat.height // 3, x + cat.width // 6, cat.height)), (226, 132, 52))
        for x in range(0, cat.width, cat.width // 6)
    ][:6]
    best = columns.index(max(columns))
    assert best in (1, 2, 3, 4), columns
    top = cat.crop((0, 0, cat.width, cat.height // 5))
    assert share_near(top, (226, 132, 52), 40) < 0.01


def test_the_moon_has_no_square_halo_and_no_grey_disc():
    from generation.providers.offline import Painter

    painter = Painter("night", 1, 512, 512)
    image = Image.new("RGB", (400, 400), (0, 0, 0))
    painter._glow(image, 200, 200, 150, (255, 255, 255), 255)
    # The glow fades to nothing at the edge of its circle: the square it is pasted with is
    # invisible (before, the middle of each edge was still lit).
    for point in ((200, 51), (51, 200), (349, 200), (200, 349), (60, 60)):
        assert max(image.getpixel(point)) <= 2, point
    assert max(image.getpixel((200, 200))) > 200
    # A crescent night: the dark part of the moon is the sky's own colour, no disc laid over it.
    for seed in range(8):
        moon = Painter("a crescent moon at night", seed, 512, 512)
        sky = moon._sky()
        from PIL import ImageDraw as _Draw

        moon._light(sky, _Draw.Draw(sky, "RGBA"))
        x, y, radius = moon.sun
        centre = sky.getpixel((int(x), int(y)))
        if max(centre) < 200:  # a crescent (the centre is dark): its "bite" shows the glow behind
            left = sky.getpixel((int(x - radius * 0.8), int(y)))
            assert max(left) > 200, (seed, left)
            assert centre[2] >= centre[0] - 10, (seed, centre)  # sky blue, not a grey disc
            break
    else:
        raise AssertionError("no crescent in eight seeds")


def test_an_edit_adds_the_subject_it_names_inside_the_mask_only(source):
    original = decode(source).convert("RGB")
    box = (300, 250, 800, 750)
    edited = decode(
        provider.generate(
            make("add an orange cat", "4:3", source_image=source, mask=rectangle_mask(original.size, box))
        ).data
    ).convert("RGB")
    assert share_near(edited.crop(box), (226, 132, 52)) > 0.05
    assert share_near(original.crop(box), (226, 132, 52)) < 0.01
    for far in ((0, 0, 250, 864), (850, 0, 1152, 864)):
        assert edited.crop(far).tobytes() == original.crop(far).tobytes()


def test_edits_keep_the_texture_of_what_they_recolour_and_can_remove(source):
    original = decode(source).convert("RGB")
    box = (200, 200, 900, 700)
    mask = rectangle_mask(original.size, box)
    recoloured = decode(provider.generate(make("make it blue", "4:3", source_image=source, mask=mask)).data)
    inside = (300, 300, 800, 600)
    # Not posterised: the area keeps its light and shade, tone for tone (posterising into a few
    # levels, as before, left a correlation of about 0.97).
    before_l = list(original.convert("L").crop(inside).getdata())
    after_l = list(recoloured.convert("L").crop(inside).getdata())
    assert statistics.correlation(before_l, after_l) > 0.99
    assert recoloured.convert("RGB").crop(inside).resize((1, 1)).getpixel((0, 0))[2] > 120  # and blue
    removed = decode(provider.generate(make("remove the trees", "4:3", source_image=source, mask=mask)).data)
    # Removing smooths the area out: far less detail than before.
    detail = ImageStat.Stat(removed.convert("L").crop(inside).filter(ImageFilter.FIND_EDGES)).mean[0]
    before = ImageStat.Stat(original.convert("L").crop(inside).filter(ImageFilter.FIND_EDGES)).mean[0]
    assert detail < before * 0.5
