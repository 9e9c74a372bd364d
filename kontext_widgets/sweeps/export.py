"""Exports of a sweep: a contact sheet PNG with axis legends, a self-contained HTML page,
and the full-size images with their parameters written into each PNG.
"""

from __future__ import annotations

import html
import json
import struct
import zlib
from pathlib import Path
from typing import Any

from ..engine.cells import CellOutcome
from ..errors import UnreadableImageError
from ..images import contact_sheet_png, thumbnail_data_uri
from .layout import Axes, SweepView

__all__ = ["contact_sheet", "export_images", "html_page", "with_png_text"]

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


def _parameters(result: SweepView, index: int) -> dict[str, Any]:
    cell = result.plan.cells[index]
    outcome = result.outcomes[index]
    return {
        **{k: v for k, v in cell.request.describe().items()},
        "prediction_id": outcome.prediction_id,
        "model": "wavespeed-ai/flux-kontext-pro/multi",
        "simulated": result.simulated or outcome.simulated,
        "software": "kontext-widgets",
    }


def export_images(result: SweepView, directory: str | Path) -> list[Path]:
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


def _sheet_cell(result: SweepView, outcome: CellOutcome | None) -> bytes | str:
    if outcome is not None and outcome.state == "done" and outcome.outputs:
        return result.image_bytes(outcome)
    return "failed" if outcome is not None and outcome.state == "failed" else "missing"


def contact_sheet(
    result: SweepView,
    path: str | Path,
    *,
    rows: Axes = None,
    cols: Axes = None,
    px: int = 192,
) -> Path:
    """One PNG: the grid of thumbnails with the column legend on top and row legends on the left."""
    grid = result.layout(rows=rows, cols=cols)
    cells = [[_sheet_cell(result, outcome) for outcome in row] for row in grid.cells]
    target = Path(path)
    target.write_bytes(
        contact_sheet_png(result.summary(), grid.col_labels, grid.row_labels, cells, px)
    )
    return target


def _html_cell(result: SweepView, outcome: CellOutcome | None, px: int) -> str:
    if outcome is not None and outcome.state == "done" and outcome.outputs:
        try:
            uri = thumbnail_data_uri(result.image_bytes(outcome), px)
        except UnreadableImageError as exc:
            return f"<td class='failed'>cannot show: {html.escape(str(exc))}</td>"
        tip = html.escape(json.dumps(_parameters(result, outcome.index), default=str))
        return f"<td><img src='{uri}' alt='cell {outcome.index}' title='{tip}'></td>"
    reason = outcome.error if outcome is not None else "missing"
    return f"<td class='failed'>{html.escape(reason or 'failed')}</td>"


def html_page(
    result: SweepView,
    path: str | Path,
    *,
    rows: Axes = None,
    cols: Axes = None,
    px: int = 256,
) -> Path:
    """A self-contained HTML page (thumbnails embedded, everything escaped)."""
    grid = result.layout(rows=rows, cols=cols)
    head = "".join(f"<th scope='col'>{html.escape(c)}</th>" for c in grid.col_labels)
    body = []
    for r, label in enumerate(grid.row_labels):
        tds = "".join(_html_cell(result, outcome, px) for outcome in grid.cells[r])
        body.append(f"<tr><th scope='row'>{html.escape(label)}</th>{tds}</tr>")
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
