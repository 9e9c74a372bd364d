"""images.py: sniffing, the one bomb guard, sizes, thumbnails (one EXIF and transparency rule)."""

from __future__ import annotations

import base64
import io

import pytest
from PIL import Image

from kontext_widgets import images, samples
from kontext_widgets.errors import ImageBombError, UnreadableImageError
from kontext_widgets.simulator.hostile import bomb_png

from .display._helpers import png


def encoded(image: Image.Image, fmt: str, **save: object) -> bytes:
    buf = io.BytesIO()
    image.save(buf, format=fmt, **save)
    return buf.getvalue()


@pytest.mark.parametrize(
    ("fmt", "mime", "ext"),
    [
        ("PNG", "image/png", ".png"),
        ("JPEG", "image/jpeg", ".jpg"),
        ("WEBP", "image/webp", ".webp"),
        ("GIF", "image/gif", ".gif"),
    ],
)
def test_sniffing_agrees_with_pillow_for_every_kind(fmt: str, mime: str, ext: str) -> None:
    data = encoded(Image.new("RGB", (8, 8), "red"), fmt)
    kind = images.sniff(data)
    assert kind is not None
    assert (kind.mime, kind.extension) == (mime, ext)
    assert images.sniff_mime(data) == mime
    assert images.extension(mime) == ext
    assert images.inspect(data).kind == kind


def test_unknown_bytes_have_no_kind() -> None:
    assert images.sniff(b"") is None
    assert images.sniff_mime(b"GIF88a", "x/y") == "x/y"
    assert images.extension("image/tiff") == ".img"
    assert images.FORMAT_NAMES == "PNG, JPEG, WebP, GIF"


def test_a_format_the_service_does_not_take_is_read_but_has_no_kind() -> None:
    info = images.inspect(encoded(Image.new("RGB", (4, 3)), "BMP"))
    assert (info.format, info.kind, info.size) == ("BMP", None, (4, 3))


def test_bombs_are_refused_from_the_header() -> None:
    with pytest.raises(ImageBombError, match=r"8000×8000 pixels \(64 megapixels") as info:
        images.inspect(bomb_png(64))
    assert (info.value.width, info.value.height, info.value.limit) == (8000, 8000, 50_000_000)
    # a lower limit of the caller's own
    with pytest.raises(ImageBombError, match=r"the limit is 0\.5"):
        images.inspect(bomb_png(1), max_pixels=500_000)
    # Over twice Pillow's own limit it refuses by itself: still a bomb, not "unreadable".
    with pytest.raises(ImageBombError, match="absurd dimensions"):
        images.inspect(bomb_png(225), max_pixels=10**12)
    # The same guard stands before every decode.
    for decode in (images.thumbnail, images.thumbnail_data_uri, images.decode, images.image_size):
        with pytest.raises(ImageBombError):
            decode(bomb_png(64))


def test_junk_is_unreadable_and_says_how_many_bytes() -> None:
    with pytest.raises(UnreadableImageError, match=r"not a readable image \(6 bytes\)"):
        images.inspect(b"<html>")
    truncated = samples.path("shoes").read_bytes()[:2000]
    with pytest.raises(UnreadableImageError):
        images.inspect(truncated)  # verify() finds the cut
    with pytest.raises(UnreadableImageError):
        images.thumbnail(truncated)
    assert issubclass(UnreadableImageError, ValueError)


def test_size_follows_exif_rotation() -> None:
    exif = Image.Exif()
    exif[0x0112] = 6
    data = encoded(Image.new("RGB", (400, 200), "blue"), "JPEG", exif=exif)
    info = images.inspect(data)
    assert (info.stored, info.size, info.orientation) == ((400, 200), (200, 400), 6)
    assert images.image_size(data) == (200, 400)
    assert images.thumbnail(data, 100).size == (50, 100)


def test_thumbnail_is_rgb_and_flattens_every_kind_of_transparency() -> None:
    clear_rgba = encoded(Image.new("RGBA", (64, 64), (255, 0, 0, 0)), "PNG")
    clear_la = encoded(Image.new("LA", (64, 64), (0, 0)), "PNG")
    palette = Image.new("P", (64, 64), 0)
    palette.info["transparency"] = 0
    clear_p = encoded(palette, "PNG", transparency=0)
    for data in (clear_rgba, clear_la, clear_p):
        thumb = images.thumbnail(data, 32)
        assert thumb.mode == "RGB"
        assert min(thumb.getpixel((5, 5))) > 245  # type: ignore[arg-type]


def test_thumbnail_jpeg_is_small_and_checks_its_arguments() -> None:
    jpeg = images.thumbnail_jpeg(samples.path("landscape").read_bytes(), 128, quality=60)
    assert images.sniff_mime(jpeg) == "image/jpeg"
    assert max(images.image_size(jpeg)) == 128
    with pytest.raises(ValueError, match="quality: 0"):
        images.thumbnail_jpeg(jpeg, quality=0)
    with pytest.raises(ValueError, match="px: 2000"):
        images.thumbnail(jpeg, 2000)
    assert images.check_px("thumb_px", 16) == 16


def test_pillow_images_become_png_and_back() -> None:
    png = images.pil_to_png(Image.new("CMYK", (3, 2)))
    assert images.inspect(png).kind == images.KINDS["PNG"]
    decoded = images.decode(png)
    assert (decoded.size, decoded.format) == ((3, 2), "PNG")
    assert images.is_pil_image(decoded)
    assert not images.is_pil_image(png)
    with pytest.raises(UnreadableImageError, match="cannot be saved as PNG"):
        images.pil_to_png(Image.new("RGB", (0, 0)))


def test_contact_sheet_draws_thumbnails_and_reasons() -> None:
    person = samples.path("person").read_bytes()
    sheet = images.contact_sheet_png("title", ["a", "b"], ["r1", "r2"], [[person, "failed"]] * 2)
    picture = images.decode(sheet)
    assert picture.size == (220 + 2 * 198 + 6, 56 + 2 * 198 + 6)
    # the red box of a reason, and a picture where the thumbnail went
    assert picture.convert("RGB").getpixel((220 + 198 + 6, 56 + 6 + 50)) == (204, 0, 0)
    assert picture.convert("RGB").getpixel((220 + 6 + 96, 56 + 6 + 96)) != (255, 255, 255)


# --------------------------------------------------------------------------- thumbnails


def _decode(uri: str) -> Image.Image:
    return Image.open(io.BytesIO(base64.b64decode(uri.split(",", 1)[1])))


@pytest.mark.parametrize(
    ("size", "px", "expected"),
    [
        ((1024, 1024), 256, (256, 256)),
        ((1536, 640), 256, (256, 107)),
        ((640, 1536), 200, (83, 200)),
        ((100, 60), 256, (100, 60)),  # never enlarged
    ],
)
def test_thumbnail_sizes(size: tuple[int, int], px: int, expected: tuple[int, int]) -> None:
    uri = images.thumbnail_data_uri(png(*size), px)
    assert uri.startswith("data:image/jpeg;base64,")
    assert _decode(uri).size == expected


def test_thumbnail_flattens_transparency_onto_white() -> None:
    buf = io.BytesIO()
    Image.new("RGBA", (300, 300), (255, 0, 0, 0)).save(buf, format="PNG")
    image = _decode(images.thumbnail_data_uri(buf.getvalue())).convert("RGB")
    assert image.mode == "RGB"
    r, g, b = image.getpixel((10, 10))  # type: ignore[misc]
    assert min(r, g, b) > 245


def test_thumbnail_follows_exif_rotation() -> None:
    buf = io.BytesIO()
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° clockwise to view
    Image.new("RGB", (400, 200), "blue").save(buf, format="JPEG", exif=exif)
    assert _decode(images.thumbnail_data_uri(buf.getvalue())).size == (128, 256)


def test_thumbnail_of_jpeg_output() -> None:
    buf = io.BytesIO()
    Image.open(io.BytesIO(png(1024, 1024, 4))).save(buf, format="JPEG", quality=95)
    uri = images.thumbnail_data_uri(buf.getvalue())
    assert _decode(uri).size == (256, 256)
    assert len(uri) < 40_000


def test_thumbnail_refuses_non_images_and_bad_sizes() -> None:
    with pytest.raises(ValueError, match="not a readable image"):
        images.thumbnail_data_uri(b"<html>")
    with pytest.raises(ValueError, match="px"):
        images.thumbnail_data_uri(png(64, 64), 0)
    with pytest.raises(ValueError, match="quality"):
        images.thumbnail_data_uri(png(64, 64), quality=100)
