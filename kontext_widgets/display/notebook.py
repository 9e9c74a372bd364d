"""The one place that uses IPython's display: HTML with a plain-text twin, once or in place."""

from __future__ import annotations

from typing import Any


def in_ipython() -> bool:
    """Whether an IPython shell (a notebook kernel, a console) is running us."""
    from IPython import get_ipython

    return get_ipython() is not None


def publish(html_text: str, plain: str) -> None:
    """Display ``html_text`` once, ``plain`` beside it for text views (printed outside IPython).

    >>> publish("<b>hi</b>", "hi")  # outside IPython: the text
    hi
    """
    if not in_ipython():
        print(plain)
        return
    from IPython.display import display

    display({"text/html": html_text, "text/plain": plain}, raw=True)  # type: ignore[no-untyped-call]


def in_notebook() -> bool:
    """Whether a notebook kernel runs us (not a terminal IPython, not plain Python)."""
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    return shell is not None and type(shell).__name__ == "ZMQInteractiveShell"


class LiveOutput:
    """One output shown once, then replaced in place on each :meth:`show` (a progress line).

    >>> live = LiveOutput()
    >>> live.show("<b>1/2</b>", "1/2")  # outside IPython: the text, each time
    1/2
    """

    def __init__(self) -> None:
        self._handle: Any = None

    def show(self, html_text: str, plain: str) -> None:
        if not in_ipython():
            print(plain)
            return
        from IPython.display import display

        bundle = {"text/html": html_text, "text/plain": plain}
        if self._handle is None:
            self._handle = display(bundle, raw=True, display_id=True)  # type: ignore[no-untyped-call]
        else:
            self._handle.update(bundle, raw=True)
