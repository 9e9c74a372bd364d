"""Exports of a sweep: a contact sheet PNG with axis legends, a self-contained HTML page,
and the full-size images with their parameters written into each PNG.
"""

from __future__ import annotations

import base64
import html
import io
import json
import struct
import zlib
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .layout import GridLayout

if TYPE_CHECKING:
    from PIL import Image

    from .results import SweepResult
    from .runner import CellOutcome

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def with_png_text(data: bytes, text: dict[str, str]) -> bytes:
    """The same PNG with ``tEXt`` chunks added before ``IEND`` (pixels untouched).

    >>> import io; from PIL import Image
    >>> buf = io.BytesIO(); Image.new("RGB", (2, 2)).save(buf, format="PNG")
    >>> tagged = with_png_text(buf.getvalue(), {"parameters": '{"seed": 1}'})
    >>> Image.open(io.BytesIO(tagged)).text["parameters"]
    '{"seed": 1}'
    """
    if not data.startswith(_PNG_SIGNATURE):
        raise ValueError("not a PNG: cannot add text chunks")
    end = data.rfind(b"IEND") - 4
    if end < len(_PNG_SIGNATURE):
        raise ValueError("PNG has no IEND chunk")
    chunks = b""
    for key, value in text.items():
        body = key.encode("latin-1") + b"\0" + value.encode("latin-1", "replace")
        chunks += struct.pack(">I", len(body)) + b"tEXt" + body
        chunks += struct.pack(">I", zlib.crc32(b"tEXt" + body) & 0xFFFFFFFF)
    return data[:end] + chunks + data[end:]


def _parameters(result: SweepResult, index: int) -> dict[str, Any]:
    cell = result.plan.cells[index]
    outcome = result.outcomes[index]
    return {
        **{k: v for k, v in cell.request.describe().items()},
        "prediction_id": outcome.prediction_id,
        "model": "wavespeed-ai/flux-kontext-pro/multi",
        "simulated": result.simulated,
        "software": "kontext-widgets",
    }


def export_images(result: SweepResult, directory: str | Path) -> list[Path]:
    """Write every finished cell's full-size output as ``cell-NNNN.png`` with its parameters
    (JSON in the ``parameters`` text chunk; a ``.json`` beside any non-PNG output)."""
    target = Path(directory)
    target.mkdir(parents=True, exist_ok=True)
    written = []
    for outcome in result.done:
        parameters = json.dumps(_parameters(result, outcome.index), default=str, sort_keys=True)
        for n, _sha in enumerate(outcome.outputs):
            data = result.image_bytes(outcome, n)
            stem = f"cell-{outcome.index:04d}" + (f"-{n}" if n else "")
            if data.startswith(_PNG_SIGNATURE):
                path = target / f"{stem}.png"
                path.write_bytes(with_png_text(data, {"parameters": parameters}))
            else:
                path = target / f"{stem}.img"
                path.write_bytes(data)
                path.with_suffix(".json").write_text(parameters + "\n")
            written.append(path)
    return written


def _thumb(result: SweepResult, outcome: CellOutcome, px: int) -> Image.Image:
    from PIL import Image

    image = Image.open(io.BytesIO(result.image_bytes(outcome)))
    image.thumbnail((px, px))
    return image.convert("RGB")


def contact_sheet(
    result: SweepResult,
    path: str | Path,
    *,
    rows: str | list[str] | None = None,
    cols: str | list[str] | None = None,
    px: int = 192,
) -> Path:
    """One PNG: the grid of thumbnails with the column legend on top and row legends on the left."""
    from PIL import Image, ImageDraw, ImageFont

    grid = GridLayout.arrange(dict(result.plan.axes), result.outcomes, rows=rows, cols=cols)
    font = ImageFont.load_default(size=14)
    legend_w = max([220] + [int(font.getlength(t)) + 16 for t in grid.row_labels])
    header_h, pad = 28, 6
    title = result.summary()
    width = legend_w + len(grid.col_labels) * (px + pad) + pad
    height = header_h * 2 + len(grid.row_labels) * (px + pad) + pad
    sheet = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(sheet)
    draw.text((pad, 6), title, fill="black", font=font)
    for c, label in enumerate(grid.col_labels):
        draw.text((legend_w + c * (px + pad) + pad, header_h + 6), label, fill="black", font=font)
    for r, label in enumerate(grid.row_labels):
        top = header_h * 2 + r * (px + pad) + pad
        draw.text((pad, top + px // 2 - 7), label, fill="black", font=font)
        for c, outcome in enumerate(grid.cells[r]):
            left = legend_w + c * (px + pad) + pad
            if outcome is not None and outcome.state == "done" and outcome.outputs:
                thumb = _thumb(result, outcome, px)
                sheet.paste(thumb, (left + (px - thumb.width) // 2, top + (px - thumb.height) // 2))
            else:
                draw.rectangle((left, top, left + px, top + px), outline="#c00", width=2)
                reason = (
                    "failed" if outcome is not None and outcome.state == "failed" else "missing"
                )
                draw.text((left + 8, top + 8), reason, fill="#c00", font=font)
    target = Path(path)
    sheet.save(target, format="PNG", optimize=True)
    return target


def html_page(
    result: SweepResult,
    path: str | Path,
    *,
    rows: str | list[str] | None = None,
    cols: str | list[str] | None = None,
    px: int = 256,
) -> Path:
    """A self-contained HTML page (thumbnails embedded, everything escaped)."""
    grid = GridLayout.arrange(dict(result.plan.axes), result.outcomes, rows=rows, cols=cols)
    head = "".join(f"<th scope='col'>{html.escape(c)}</th>" for c in grid.col_labels)
    body = []
    for r, label in enumerate(grid.row_labels):
        tds = []
        for outcome in grid.cells[r]:
            if outcome is not None and outcome.state == "done" and outcome.outputs:
                buf = io.BytesIO()
                _thumb(result, outcome, px).save(buf, format="JPEG", quality=80)
                uri = "data:image/jpeg;base64," + base64.b64encode(buf.getvalue()).decode()
                tip = html.escape(json.dumps(_parameters(result, outcome.index), default=str))
                tds.append(f"<td><img src='{uri}' alt='cell {outcome.index}' title='{tip}'></td>")
            else:
                reason = outcome.error if outcome is not None else "missing"
                tds.append(f"<td class='failed'>{html.escape(reason or 'failed')}</td>")
        body.append(f"<tr><th scope='row'>{html.escape(label)}</th>{''.join(tds)}</tr>")
    fixed = ", ".join(f"{k}: {v}" for k, v in result.plan.fixed.items() if k != "images")
    page = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>kontext-widgets sweep</title>
<style>body{{font-family:system-ui,sans-serif;margin:1rem}}td,th{{padding:4px;vertical-align:middle}}
img{{max-width:{px}px;display:block}}.failed{{color:#b00;max-width:{px}px}}</style></head>
<body><h1>Sweep: {html.escape(result.summary())}</h1><p>{html.escape(fixed)}</p>
<table><thead><tr><th></th>{head}</tr></thead><tbody>{"".join(body)}</tbody></table></body></html>
"""
    target = Path(path)
    target.write_text(page, encoding="utf-8")
    return target
