"""publish and LiveOutput: what a notebook records, and plain text outside IPython."""

from __future__ import annotations

import pytest
from IPython.utils.capture import capture_output

from kontext_widgets.display import notebook as pub


def test_publish_shows_html_once_with_its_plain_twin() -> None:
    with capture_output() as captured:
        pub.publish("<b>x</b>", "x")
    assert [o.data for o in captured.outputs] == [{"text/html": "<b>x</b>", "text/plain": "x"}]


def test_live_output_is_shown_once_then_updated_in_place() -> None:
    live = pub.LiveOutput()
    with capture_output() as captured:
        live.show("<i>1</i>", "1")
        live.show("<i>2</i>", "2")
    assert [o.data for o in captured.outputs] == [
        {"text/html": "<i>1</i>", "text/plain": "1"},
        {"text/html": "<i>2</i>", "text/plain": "2"},
    ]
    assert [o.update for o in captured.outputs] == [False, True]
    ids = {o.transient["display_id"] for o in captured.outputs}
    assert len(ids) == 1  # the second replaces the first


def test_outside_ipython_everything_is_plain_text(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr("IPython.get_ipython", lambda: None)
    pub.publish("<b>x</b>", "x")
    pub.LiveOutput().show("<b>y</b>", "y")
    assert capsys.readouterr().out == "x\ny\n"
    assert not pub.in_ipython()
    assert not pub.in_notebook()


def test_a_terminal_ipython_is_not_a_notebook() -> None:
    assert pub.in_ipython()
    assert not pub.in_notebook()  # the test shell is a plain InteractiveShell
