"""Image work in one place: the only module outside the simulator that imports Pillow.

- :data:`KINDS` is the one table of the formats the service takes (PNG, JPEG,
  WebP, GIF): MIME type, file extension and the name used in messages;
  :func:`sniff` finds a kind from the first bytes, without Pillow.
- :func:`inspect` is the one decompression-bomb guard: it reads the header
  only and refuses an image of more than :data:`MAX_PIXELS` pixels (a small
  file can declare absurd dimensions) or one that Pillow itself finds suspect.
- :func:`thumbnail` and its JPEG and ``data:`` URI forms apply the one rule for
  small pictures: EXIF orientation applied, transparency flattened onto white,
  never enlarged.
"""

from __future__ import annotations

import base64
import contextlib
import io
import warnings
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

from .errors import ImageBombError, UnreadableImageError

if TYPE_CHECKING:
    from typing import TypeAlias

    import PIL.Image

    #: A Pillow image, for annotations elsewhere (so they need not import Pillow).
    PILImage: TypeAlias = PIL.Image.Image

#: Images with more pixels than this are refused from their header, before decoding.
MAX_PIXELS: Final = 50_000_000
#: Long side of a thumbnail, in pixels, unless asked otherwise.
THUMB_PX: Final = 256
#: JPEG quality of thumbnails (1-95).
THUMB_QUALITY: Final = 80
_PX_RANGE: Final = (16, 1024)
_EXIF_ORIENTATION: Final = 0x0112


@dataclass(frozen=True)
class ImageKind:
    """One image format the service takes: Pillow's name, MIME type, extension, shown name."""

    format: str
    mime: str
    extension: str
    name: str


#: The formats the service takes, by Pillow's format name.
KINDS: Final[Mapping[str, ImageKind]] = {
    "PNG": ImageKind("PNG", "image/png", ".png", "PNG"),
    "JPEG": ImageKind("JPEG", "image/jpeg", ".jpg", "JPEG"),
    "WEBP": ImageKind("WEBP", "image/webp", ".webp", "WebP"),
    "GIF": ImageKind("GIF", "image/gif", ".gif", "GIF"),
}
#: "PNG, JPEG, WebP, GIF": for messages.
FORMAT_NAMES: Final = ", ".join(k.name for k in KINDS.values())
_BY_MIME: Final = {k.mime: k for k in KINDS.values()}


def sniff(data: bytes) -> ImageKind | None:
    """The kind of image ``data`` starts like, from its magic bytes (no decoding).

    >>> sniff(b"\\x89PNG\\r\\n\\x1a\\n...").mime, sniff(b"RIFF\\0\\0\\0\\0WEBPVP8 ").extension
    ('image/png', '.webp')
    >>> sniff(b"<html>") is None
    True
    """
    head = bytes(data[:12])
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return KINDS["PNG"]
    if head.startswith(b"\xff\xd8\xff"):
        return KINDS["JPEG"]
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return KINDS["WEBP"]
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return KINDS["GIF"]
    return None


def sniff_mime(data: bytes, default: str = "application/octet-stream") -> str:
    """The MIME type of ``data`` by its magic bytes, or ``default``.

    >>> sniff_mime(b"\\xff\\xd8\\xff\\xe0"), sniff_mime(b"junk")
    ('image/jpeg', 'application/octet-stream')
    """
    kind = sniff(data)
    return kind.mime if kind is not None else default


def extension(mime: str, default: str = ".img") -> str:
    """The file extension of a MIME type among :data:`KINDS`, or ``default``.

    >>> extension("image/jpeg"), extension("text/html")
    ('.jpg', '.img')
    """
    kind = _BY_MIME.get(mime)
    return kind.extension if kind is not None else default


def data_uri(payload: bytes, mime: str) -> str:
    """``payload`` as a base64 ``data:`` URI.

    >>> data_uri(b"<svg/>", "image/svg+xml")
    'data:image/svg+xml;base64,PHN2Zy8+'
    """
    return f"data:{mime};base64," + base64.b64encode(payload).decode("ascii")


# --------------------------------------------------------------------------- the guard


@dataclass(frozen=True)
class ImageInfo:
    """What the header of an image says: its format and its size."""

    format: str
    #: width and height as stored (before EXIF rotation)
    stored: tuple[int, int]
    orientation: int = 1

    @property
    def kind(self) -> ImageKind | None:
        """The entry of :data:`KINDS`; ``None`` for a format the service does not take."""
        return KINDS.get(self.format)

    @property
    def size(self) -> tuple[int, int]:
        """Width and height as a person sees them (EXIF rotation applied)."""
        width, height = self.stored
        return (height, width) if self.orientation in (5, 6, 7, 8) else (width, height)


@contextlib.contextmanager
def _opened(data: bytes, max_pixels: int) -> Iterator[PILImage]:
    """Pillow's lazy image of ``data``, after the bomb check. Pillow's errors, in the caller's
    block too (decoding past a valid header can fail), become :class:`UnreadableImageError`."""
    from PIL import Image

    try:
        with warnings.catch_warnings():
            # Pillow only warns between its two bomb thresholds: make that a refusal too.
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as image:
                width, height = image.size
                if width * height > max_pixels:
                    raise ImageBombError(
                        f"an image of {width}×{height} pixels ({width * height / 1e6:.0f} "
                        f"megapixels; the limit is {max_pixels / 1e6:g})",
                        width,
                        height,
                        max_pixels,
                    )
                yield image
    except UnreadableImageError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ImageBombError(f"an image with absurd dimensions ({exc})") from None
    except Exception as exc:  # Pillow raises many kinds (OSError, SyntaxError, struct.error...)
        raise UnreadableImageError(f"not a readable image ({len(data)} bytes): {exc}") from None


def inspect(data: bytes, *, max_pixels: int = MAX_PIXELS, verify: bool = True) -> ImageInfo:
    """Format and size of an image from its header, refusing bombs; ``verify`` checks its structure.

    Raises :class:`ImageBombError` for more than ``max_pixels`` pixels (or when
    Pillow finds the dimensions suspect) and :class:`UnreadableImageError` for
    anything Pillow cannot read. Pixels are never decoded.

    >>> from kontext_widgets import samples
    >>> info = inspect(samples.path("person").read_bytes())
    >>> info.kind.mime, info.size
    ('image/png', (384, 512))
    >>> inspect(b"<html>")
    Traceback (most recent call last):
    ...
    kontext_widgets.errors.UnreadableImageError: not a readable image (6 bytes): ...
    """
    data = bytes(data)
    if verify:  # verify() must come straight after open, before the EXIF read below
        with _opened(data, max_pixels) as image:
            image.verify()
    with _opened(data, max_pixels) as image:
        orientation = image.getexif().get(_EXIF_ORIENTATION, 1)
        return ImageInfo(
            format=image.format or "",
            stored=image.size,
            orientation=orientation if isinstance(orientation, int) else 1,
        )


def image_size(data: bytes) -> tuple[int, int]:
    """Width and height as a person sees them (EXIF rotation applied); reads only the header.

    >>> from kontext_widgets import samples
    >>> image_size(samples.path("person").read_bytes())
    (384, 512)
    """
    return inspect(data, verify=False).size


# --------------------------------------------------------------------------- thumbnails


def check_px(name: str, px: object) -> int:
    """``px`` if it is a thumbnail size (16 to 1024 pixels), else a ValueError naming ``name``."""
    low, high = _PX_RANGE
    if isinstance(px, bool) or not isinstance(px, int) or not low <= px <= high:
        raise ValueError(f"{name}: {px!r} is not allowed; expected an integer from {low} to {high}")
    return px


def thumbnail(data: bytes, px: int = THUMB_PX, *, max_pixels: int = MAX_PIXELS) -> PILImage:
    """An RGB picture of at most ``px`` on its long side: EXIF rotation applied, transparency
    flattened onto white, never enlarged. Raises :class:`UnreadableImageError`.

    >>> from kontext_widgets import samples
    >>> thumbnail(samples.path("person").read_bytes(), 128).size
    (96, 128)
    """
    from PIL import Image, ImageOps

    check_px("px", px)
    with _opened(data, max_pixels) as opened:  # which also translates decoding errors
        image: PILImage = opened
        if image.getexif().get(_EXIF_ORIENTATION, 1) != 1:
            image = ImageOps.exif_transpose(image)
        image.thumbnail((px, px), Image.Resampling.LANCZOS)  # also uses JPEG draft mode
        return _flatten(image)


def _flatten(image: PILImage) -> PILImage:
    """RGB, with any transparency composited onto white."""
    from PIL import Image

    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(white, rgba).convert("RGB")
    return image.convert("RGB")


def thumbnail_jpeg(data: bytes, px: int = THUMB_PX, *, quality: int = THUMB_QUALITY) -> bytes:
    """:func:`thumbnail` as JPEG bytes of the given ``quality`` (1-95)."""
    if isinstance(quality, bool) or not isinstance(quality, int) or not 1 <= quality <= 95:
        raise ValueError(f"quality: {quality!r} is not allowed; expected an integer from 1 to 95")
    out = io.BytesIO()
    thumbnail(data, px).save(out, format="JPEG", quality=quality, optimize=True)
    return out.getvalue()


def thumbnail_data_uri(data: bytes, px: int = THUMB_PX, *, quality: int = THUMB_QUALITY) -> str:
    """A small JPEG of an image, as a ``data:image/jpeg;base64,...`` URI.

    The long side becomes at most ``px`` pixels (smaller images are not
    enlarged), EXIF rotation is applied, and transparency is flattened onto
    white. Raises :class:`ValueError` when ``data`` is not a readable image.

    >>> import io
    >>> from PIL import Image
    >>> buf = io.BytesIO()
    >>> Image.new("RGB", (1024, 768), "red").save(buf, format="PNG")
    >>> uri = thumbnail_data_uri(buf.getvalue(), px=128)
    >>> uri.startswith("data:image/jpeg;base64,")
    True
    >>> Image.open(io.BytesIO(base64.b64decode(uri.split(",", 1)[1]))).size
    (128, 96)
    """
    check_px("px", px)
    return data_uri(thumbnail_jpeg(data, px, quality=quality), "image/jpeg")


# --------------------------------------------------------------------------- Pillow objects


def decode(data: bytes, *, max_pixels: int = MAX_PIXELS) -> PILImage:
    """The decoded Pillow image of ``data``, bomb guard first (or :class:`UnreadableImageError`).

    >>> from kontext_widgets import samples
    >>> decode(samples.path("shoes").read_bytes()).format
    'PNG'
    """
    with _opened(data, max_pixels) as image:
        image.load()  # leaving the block closes the file, not the loaded pixels
        return image


def is_pil_image(value: object) -> bool:
    """Whether ``value`` is a Pillow image (Pillow is imported only if the caller has)."""
    import sys

    module = sys.modules.get("PIL.Image")
    return module is not None and isinstance(value, module.Image)


def pil_to_png(image: PILImage) -> bytes:
    """A Pillow image as PNG bytes (odd modes converted to RGBA first).

    >>> from PIL import Image
    >>> pil_to_png(Image.new("CMYK", (2, 2)))[:4]
    b'\\x89PNG'
    """
    buf = io.BytesIO()
    try:
        ready = image if image.mode in ("RGB", "RGBA", "L", "LA", "P") else image.convert("RGBA")
        ready.save(buf, format="PNG")
    except (OSError, ValueError, TypeError, SystemError) as exc:  # empty, or an odd mode
        raise UnreadableImageError(f"this PIL image cannot be saved as PNG: {exc}") from None
    return buf.getvalue()


# --------------------------------------------------------------------------- contact sheets


def contact_sheet_png(
    title: str,
    col_labels: Sequence[str],
    row_labels: Sequence[str],
    cells: Sequence[Sequence[bytes | str]],
    px: int = 192,
) -> bytes:
    """One PNG: thumbnails in a grid, column legends on top, row legends on the left.

    A cell is an image's bytes, or a short reason (``"failed"``) drawn in a red box.

    >>> png = contact_sheet_png("t", ["a", "b"], ["r"], [[b"junk", "failed"]], px=32)
    >>> inspect(png).size
    (302, 100)
    """
    from PIL import Image, ImageDraw, ImageFont

    check_px("px", px)
    font = ImageFont.load_default(size=14)
    legend_w = max([220] + [int(font.getlength(t)) + 16 for t in row_labels])
    header_h, pad = 28, 6
    width = legend_w + len(col_labels) * (px + pad) + pad
    height = header_h * 2 + len(row_labels) * (px + pad) + pad
    sheet = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(sheet)
    draw.text((pad, 6), title, fill="black", font=font)
    for c, label in enumerate(col_labels):
        draw.text((legend_w + c * (px + pad) + pad, header_h + 6), label, fill="black", font=font)
    for r, label in enumerate(row_labels):
        top = header_h * 2 + r * (px + pad) + pad
        draw.text((pad, top + px // 2 - 7), label, fill="black", font=font)
        for c, cell in enumerate(cells[r]):
            _sheet_cell(sheet, (legend_w + c * (px + pad) + pad, top), cell, px)
    out = io.BytesIO()
    sheet.save(out, format="PNG", optimize=True)
    return out.getvalue()


def _sheet_cell(sheet: PILImage, at: tuple[int, int], cell: bytes | str, px: int) -> None:
    from PIL import ImageDraw, ImageFont

    left, top = at
    reason = cell if isinstance(cell, str) else None
    if not isinstance(cell, str):
        try:
            thumb = thumbnail(cell, px)
        except UnreadableImageError:
            reason = "cannot show"
        else:
            sheet.paste(thumb, (left + (px - thumb.width) // 2, top + (px - thumb.height) // 2))
    if reason is not None:
        draw = ImageDraw.Draw(sheet)
        draw.rectangle((left, top, left + px, top + px), outline="#c00", width=2)
        draw.text((left + 8, top + 8), reason, fill="#c00", font=ImageFont.load_default(size=14))
