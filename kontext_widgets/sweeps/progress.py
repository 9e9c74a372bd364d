"""Showing a sweep's plan and progress: in place in a notebook, line by line elsewhere."""

from __future__ import annotations

import html
import sys
import time
from typing import TextIO

from ..display import LiveOutput, in_notebook, publish
from ..engine.cells import CellOutcome
from ..engine.progress import SweepProgress


class ProgressDisplay:
    """Cells done, failed, running, spent and time left; refreshed at most ``every_s`` seconds.

    >>> import io
    >>> shown = ProgressDisplay(stream=io.StringIO(), notebook=False)
    >>> shown.message("plan: 2 cells")
    >>> shown(SweepProgress(total=2, done=1), None)
    >>> "1/2 cells" in shown.stream.getvalue()
    True
    """

    def __init__(
        self, *, stream: TextIO | None = None, notebook: bool | None = None, every_s: float = 0.5
    ) -> None:
        self.stream = stream or sys.stderr
        self.notebook = in_notebook() if notebook is None else notebook
        self.every_s = every_s
        self._last = 0.0
        self._live = LiveOutput()

    def message(self, text: str) -> None:
        if self.notebook:
            publish(f"<div class='kontext-sweep-plan'>{html.escape(text)}</div>", text)
        else:
            print(text, file=self.stream, flush=True)

    def __call__(self, progress: SweepProgress, outcome: CellOutcome | None) -> None:
        now = time.monotonic()
        final = progress.remaining == 0
        if not final and now - self._last < self.every_s:
            return
        self._last = now
        line = progress.line()
        if not self.notebook:
            if self.stream.isatty():
                # A bar redrawn in place on a terminal; a log file gets one line per update.
                width = 24
                filled = round(width * (progress.done + progress.failed) / max(1, progress.total))
                bar = "#" * filled + "." * (width - filled)
                self.stream.write(f"\r\033[K[{bar}] {line}" + ("\n" if final else ""))
                self.stream.flush()
            else:
                print(line, file=self.stream, flush=True)
            return
        done = progress.done + progress.failed
        self._live.show(
            f"<div class='kontext-sweep-progress'><progress max='{progress.total}' value='{done}'>"
            f"</progress> {html.escape(line)}</div>",
            line,
        )
