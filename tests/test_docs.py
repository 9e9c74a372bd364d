"""Every docstring example in the package runs and gives what it shows."""

from __future__ import annotations

import doctest
import importlib
import pkgutil
import re
from pathlib import Path

import pytest

import kontext_widgets

MODULES = sorted(
    info.name
    for info in pkgutil.walk_packages(kontext_widgets.__path__, prefix="kontext_widgets.")
    if not info.name.endswith("__main__")
)


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples_run(name: str) -> None:
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0


def test_public_api_has_runnable_examples() -> None:
    """Each name exported by the package documents itself with an example."""
    missing = []
    for name in kontext_widgets.__all__:
        obj = getattr(kontext_widgets, name)
        is_error = isinstance(obj, type) and issubclass(obj, BaseException)
        ours = getattr(obj, "__module__", "").startswith("kontext_widgets")
        if callable(obj) and ours and not is_error:
            examples = doctest.DocTestFinder(recurse=False).find(obj)
            if not any(t.examples for t in examples):
                missing.append(name)
    assert missing == []


def test_the_widgets_public_members_have_runnable_examples() -> None:
    """The widget's own methods and properties (its Python API) document themselves too."""
    from kontext_widgets.widget import KontextWidget

    traits = set(KontextWidget.class_own_traits())
    missing = []
    for name, member in vars(KontextWidget).items():
        if name.startswith("_") or name in traits:
            continue
        doc = getattr(member, "__doc__", None) or ""
        if not doctest.DocTestParser().get_examples(doc):
            missing.append(name)
    assert "sweep" in vars(KontextWidget)
    assert missing == []


def test_the_protocol_doc_names_every_trait_and_message() -> None:
    """docs/widget-protocol.md is the front end's contract: nothing synced goes unmentioned."""
    from kontext_widgets.widget import KontextWidget

    doc = (Path(__file__).resolve().parents[1] / "docs" / "widget-protocol.md").read_text()
    mentioned = set(re.findall(r"`([a-z_]+)`", doc))
    traits = set(KontextWidget.class_own_traits(sync=True)) - {"_esm", "_css"}
    messages = set(KontextWidget._HANDLERS)
    assert {"mode", "sweep_plan", "sweep_progress"} <= traits
    assert "retry_failed" in messages
    assert sorted(traits - mentioned) == []
    assert sorted(messages - mentioned) == []


def test_the_settings_table_is_made_from_the_registry() -> None:
    """The settings table in docs/widget-protocol.md is exactly what fields.py declares."""
    from kontext_widgets.field_text import settings_table
    from kontext_widgets.fields import FIELDS

    doc = (Path(__file__).resolve().parents[1] / "docs" / "widget-protocol.md").read_text()
    start, end = "<!-- settings-table:start -->\n", "<!-- settings-table:end -->"
    assert start in doc
    assert end in doc
    table = doc.split(start, 1)[1].split(end, 1)[0]
    assert table == settings_table(), "regenerate the table: see the note above it"
    for f in FIELDS:
        assert f"| `{f.name}` |" in table
