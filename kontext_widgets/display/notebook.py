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


def show_with_saved(
    widget_bundle: dict[str, Any],
    saved: dict[str, Any],
    display_id: str,
    metadata: dict[str, Any] | None = None,
) -> None:
    """Display a widget's live view, then its saved results as an output of their own.

    The saved output gets ``display_id`` so :func:`update_saved` can replace it in place
    (see :mod:`kontext_widgets.widget.saved_view`). Outside IPython nothing is shown.

    >>> import IPython
    >>> IPython.get_ipython() is not None or show_with_saved({}, {}, "kw-saved-1") is None
    True
    """
    if not in_ipython():
        return
    from IPython.display import display

    display(widget_bundle, raw=True, metadata=metadata or {})  # type: ignore[no-untyped-call]
    display(saved, raw=True, display_id=display_id)  # type: ignore[no-untyped-call]


def update_saved(saved: dict[str, Any], display_id: str) -> None:
    """Replace the output shown with ``display_id`` (``update_display_data``).

    >>> import IPython
    >>> IPython.get_ipython() is not None or update_saved({}, "kw-saved-1") is None
    True
    """
    if not in_ipython():
        return
    from IPython.display import update_display

    update_display(saved, raw=True, display_id=display_id)  # type: ignore[no-untyped-call]


def current_cell_id() -> str | None:
    """The id of the notebook cell running now (JupyterLab and Notebook 7 send it), or None.

    >>> current_cell_id() is None or isinstance(current_cell_id(), str)  # None: no notebook
    True
    """
    try:
        from IPython import get_ipython
    except ImportError:
        return None
    shell = get_ipython()
    kernel = getattr(shell, "kernel", None)
    get_parent = getattr(kernel, "get_parent", None)
    if get_parent is None:
        return None
    try:
        parent = get_parent()
    except Exception:  # an older ipykernel wants a channel; none of it matters here
        return None
    metadata = parent.get("metadata", {}) if isinstance(parent, dict) else {}
    cell_id = metadata.get("cellId") if isinstance(metadata, dict) else None
    return cell_id if isinstance(cell_id, str) and cell_id else None
