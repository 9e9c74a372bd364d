"""Packaging: the wheel carries the freshly built front end, and nothing it should not.

The wheel is built the way a release or `pip install` from git builds it: from a clean copy of the
source files (no kontext_widgets/static/, no node_modules, no .venv), so the hatch-jupyter-builder
hook has to run `npm install` + `npm run build` itself.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
STATIC = "kontext_widgets/static"
MAX_BUNDLE_BYTES = 60_000  # the bundle is saved into every notebook's widget state
EXCLUDED_DIRS = {".git", ".venv", ".tools", "node_modules", "__pycache__", "dist", "build"}


def _is_excluded(rel: str) -> bool:
    parts = Path(rel).parts
    return rel.startswith(STATIC + "/") or any(p in EXCLUDED_DIRS for p in parts)


def _source_files() -> list[str]:
    """Git-tracked plus untracked, not ignored files (what a fresh clone would hold)."""
    if (ROOT / ".git").exists() and shutil.which("git"):
        out = subprocess.run(
            ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
            cwd=ROOT,
            capture_output=True,
            check=True,
        ).stdout.decode()
        files = [f for f in out.split("\0") if f]
    else:  # e.g. an unpacked sdist
        files = [str(p.relative_to(ROOT)) for p in ROOT.rglob("*") if p.is_file()]
    return sorted(f for f in files if not _is_excluded(f) and (ROOT / f).is_file())


@pytest.fixture(scope="module")
def clean_copy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    src = tmp_path_factory.mktemp("src")
    for rel in _source_files():
        dest = src / rel
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / rel, dest)
    assert not (src / STATIC).exists()
    assert not (src / "js" / "node_modules").exists()
    return src


@pytest.fixture(scope="module")
def wheel(clean_copy: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in {"SKIP_JUPYTER_BUILDER", "HATCH_JUPYTER_BUILDER_SKIP_NPM"}
    }
    env["UV_PYTHON_DOWNLOADS"] = "never"
    cmd = [sys.executable, "-m", "uv", "build", "--wheel", "--python", sys.executable]
    cmd += ["--out-dir", str(out), str(clean_copy)]
    proc = subprocess.run(cmd, cwd=clean_copy, env=env, capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, f"{' '.join(cmd)} failed:\n{proc.stdout}\n{proc.stderr}"
    wheels = sorted(out.glob("*.whl"))
    assert len(wheels) == 1, wheels
    return wheels[0]


def _read(whl: Path, name: str) -> bytes:
    with zipfile.ZipFile(whl) as zf:
        return zf.read(name)


def _names(whl: Path) -> list[str]:
    with zipfile.ZipFile(whl) as zf:
        return zf.namelist()


@pytest.mark.slow
def test_wheel_contains_the_built_bundle(wheel: Path) -> None:
    names = _names(wheel)
    assert f"{STATIC}/widget.js" in names
    assert f"{STATIC}/widget.css" in names

    js = _read(wheel, f"{STATIC}/widget.js")
    assert js.strip(), "widget.js is empty"
    assert b"render" in js
    assert b"export" in js, "widget.js is not an ES module"
    assert b"sourceMappingURL" not in js, "a dev build (`npm run dev`) got into the wheel"
    assert len(js) < MAX_BUNDLE_BYTES, f"widget.js is {len(js)} bytes"

    css = _read(wheel, f"{STATIC}/widget.css")
    assert b".kontext-widget" in css
    assert len(css) < MAX_BUNDLE_BYTES, f"widget.css is {len(css)} bytes"


@pytest.mark.slow
def test_wheel_has_no_node_modules_nor_js_sources(wheel: Path) -> None:
    names = _names(wheel)
    assert not [n for n in names if "node_modules" in n]
    assert not [n for n in names if n.startswith("js/") or n.endswith((".ts", ".map"))]
    assert sorted(n for n in names if n.startswith(STATIC + "/")) == [
        f"{STATIC}/widget.css",
        f"{STATIC}/widget.js",
    ]


@pytest.mark.slow
def test_wheel_contains_every_python_module(wheel: Path) -> None:
    # `only-packages = true` silently drops a directory without __init__.py.
    expected = {
        f for f in _source_files() if f.startswith("kontext_widgets/") and f.endswith(".py")
    }
    expected.add("kontext_widgets/py.typed")  # PEP 561: the package ships its own types
    missing = expected - set(_names(wheel))
    assert not missing, f"not in the wheel (a package without __init__.py?): {sorted(missing)}"


@pytest.mark.slow
def test_frontend_paths_resolve_inside_the_installed_wheel(wheel: Path, tmp_path: Path) -> None:
    with zipfile.ZipFile(wheel) as zf:
        zf.extractall(tmp_path)
    # A fresh interpreter that imports the package from the unpacked wheel, not the checkout.
    probe = (
        "import kontext_widgets._frontend as f, json; "
        "print(json.dumps([str(p) for p in f.require_bundle()] + [f.__file__]))"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    esm, css, module = json.loads(done.stdout)
    assert Path(module).parent == tmp_path / "kontext_widgets"
    assert Path(esm) == tmp_path / STATIC / "widget.js"
    assert Path(css) == tmp_path / STATIC / "widget.css"


def test_frontend_paths_exist_after_install() -> None:
    from kontext_widgets import _frontend

    esm, css = _frontend.require_bundle()
    assert esm == _frontend.ESM
    assert css == _frontend.CSS
    assert isinstance(esm, Path)
    assert esm.is_file()
    assert css.is_file()
    assert "render" in esm.read_text(encoding="utf-8")


def test_missing_bundle_error_says_how_to_build(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from kontext_widgets import _frontend

    monkeypatch.setattr(_frontend, "ESM", tmp_path / "widget.js")
    with pytest.raises(_frontend.FrontendBundleMissingError, match=r"npm --prefix js run build"):
        _frontend.require_bundle()
    assert issubclass(_frontend.FrontendBundleMissingError, FileNotFoundError)


def test_js_dev_dependencies_are_pinned_exactly() -> None:
    package = json.loads((ROOT / "js" / "package.json").read_text(encoding="utf-8"))
    deps = package["devDependencies"]
    assert {"esbuild", "typescript", "@anywidget/types"} <= set(deps)
    loose = {name: v for name, v in deps.items() if not re.fullmatch(r"\d+\.\d+\.\d+", v)}
    assert not loose, f"pin exact versions in js/package.json: {loose}"
    assert (ROOT / "js" / "package-lock.json").is_file()


def test_bootstrap_uv_pin_matches_the_lock() -> None:
    bootstrap = (ROOT / "scripts" / "_bootstrap.sh").read_text(encoding="utf-8")
    pinned = re.search(r'^KW_UV_VERSION="([^"]+)"', bootstrap, re.MULTILINE)
    assert pinned, "KW_UV_VERSION not found in scripts/_bootstrap.sh"
    lock = (ROOT / "uv.lock").read_text(encoding="utf-8")
    locked = re.search(r'^name = "uv"\nversion = "([^"]+)"', lock, re.MULTILINE)
    assert locked, "uv is not in uv.lock"
    assert pinned.group(1) == locked.group(1)


def test_one_version_for_python_and_js() -> None:
    pyproject = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    match = re.search(r'^version = "([^"]+)"', pyproject, re.MULTILINE)
    assert match, "no static version in pyproject.toml"
    versions = {"pyproject.toml": match.group(1)}
    package = json.loads((ROOT / "js" / "package.json").read_text(encoding="utf-8"))
    versions["js/package.json"] = package["version"]
    version_py = ROOT / "kontext_widgets" / "_version.py"
    if version_py.is_file():
        found = re.search(r'^__version__ = "([^"]+)"', version_py.read_text(encoding="utf-8"), re.M)
        assert found, "no __version__ in kontext_widgets/_version.py"
        versions["kontext_widgets/_version.py"] = found.group(1)
    assert len(set(versions.values())) == 1, versions


def test_frontend_size_rules_hold() -> None:
    # No TypeScript file over 400 lines, no function over 80 (js/scripts/check-sizes.mjs, which
    # `npm run typecheck` also runs; it checks its own scanner on tricky samples first).
    node = shutil.which("node")
    assert node, "node is needed to check the front end's sizes"
    proc = subprocess.run(
        [node, "scripts/check-sizes.mjs"], cwd=ROOT / "js", capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stderr or proc.stdout
