"""Every docstring example in the package runs and gives what it shows."""

from __future__ import annotations

import doctest
import importlib
import pkgutil

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
