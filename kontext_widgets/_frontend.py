"""Where the bundled front end lives.

``js/`` is bundled by esbuild (``npm --prefix js run build``) into ``kontext_widgets/static/``;
wheels carry the bundle (the build hook runs npm), a source checkout has to build it once.
The widget uses the paths as anywidget's ``_esm`` / ``_css``; anywidget reads a ``Path`` at
class definition, so call :func:`require_bundle` first to get a clear error instead of a bare
``FileNotFoundError`` from inside anywidget.
"""

from __future__ import annotations

from pathlib import Path

from .errors import FrontendBundleMissingError

__all__ = ["CSS", "ESM", "STATIC", "FrontendBundleMissingError", "require_bundle"]

STATIC: Path = Path(__file__).resolve().parent / "static"
ESM: Path = STATIC / "widget.js"
CSS: Path = STATIC / "widget.css"

BUILD_HINT = "run `npm --prefix js run build` in the source checkout, or reinstall kontext-widgets"


def require_bundle() -> tuple[Path, Path]:
    """Return ``(ESM, CSS)``; raise :class:`FrontendBundleMissingError` if either is missing."""
    missing = [p for p in (ESM, CSS) if not p.is_file() or p.stat().st_size == 0]
    if missing:
        names = ", ".join(str(p) for p in missing)
        raise FrontendBundleMissingError(
            f"kontext-widgets front end is not built (missing or empty: {names}); {BUILD_HINT}."
        )
    return ESM, CSS
