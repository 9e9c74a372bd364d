"""Store trouble in words: one StoreError naming the path, what is wrong and what to do."""

from __future__ import annotations

import errno
import os
import sqlite3
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

import kontext_widgets as kw
from kontext_widgets import StoreError
from kontext_widgets.store import Store
from kontext_widgets.store.guard import store_error

PERSON = kw.samples.path("person")
CLI = [sys.executable, "-c", "import sys; from kontext_widgets.cli import main; sys.exit(main())"]


def _filled(directory: Path) -> None:
    store = Store(directory)
    for n in range(200):
        store.begin_submit(f"k{n}", {"prompt": "x" * 200}, simulated=True)
    store.close()


def _assert_in_words(exc: StoreError, directory: Path, *words: str) -> None:
    text = str(exc)
    assert text.startswith(f"result store {directory}"), text
    for word in words:
        assert word in text, text
    assert "Traceback" not in text
    assert "sqlite3." not in text


def test_a_corrupt_store_file(tmp_path: Path) -> None:
    (tmp_path / "store.sqlite3").write_bytes(b"this is not a database\0" * 200)
    with pytest.raises(StoreError) as caught:
        Store(tmp_path)
    _assert_in_words(caught.value, tmp_path, "corrupt", "move store.sqlite3 aside")


def test_a_truncated_store_file(tmp_path: Path) -> None:
    _filled(tmp_path)
    db = tmp_path / "store.sqlite3"
    db.write_bytes(db.read_bytes()[: db.stat().st_size // 3])

    def use() -> None:
        store = Store(tmp_path)
        store.tasks([f"k{n}" for n in range(200)])
        store.runs()

    with pytest.raises(StoreError) as caught:
        use()
    _assert_in_words(caught.value, tmp_path, "corrupt")


def test_a_store_path_that_is_a_file(tmp_path: Path) -> None:
    target = tmp_path / "store"
    target.write_text("a file")
    with pytest.raises(StoreError) as caught:
        Store(target)
    _assert_in_words(caught.value, target, "is a file, not a directory")


@pytest.mark.parametrize(("name", "make_dir"), [("store.sqlite3", True), ("images", False)])
def test_store_parts_of_the_wrong_kind(tmp_path: Path, name: str, make_dir: bool) -> None:
    part = tmp_path / name
    part.mkdir() if make_dir else part.write_text("x")
    with pytest.raises(StoreError) as caught:
        Store(tmp_path)
    _assert_in_words(caught.value, tmp_path, name, "move")


def test_a_locked_store(tmp_path: Path) -> None:
    store = Store(tmp_path)
    other = sqlite3.connect(tmp_path / "store.sqlite3", isolation_level=None)
    other.execute("BEGIN EXCLUSIVE")  # another program holds the database
    try:
        with pytest.raises(StoreError) as caught:
            store.begin_submit("k", {}, simulated=True)
    finally:
        other.execute("ROLLBACK")
        other.close()
    _assert_in_words(caught.value, tmp_path, "locked", "nothing was submitted")


_AS_READER = """
import os, sys
from kontext_widgets import StoreError
from kontext_widgets.store import Store
if os.geteuid() == 0:
    os.setgid(65534); os.setuid(65534)  # root writes anywhere: read as 'nobody' instead
try:
    store = Store(sys.argv[1])
    store.begin_submit("k", {}, simulated=True)
except StoreError as exc:
    print(exc)
"""


def test_a_read_only_store(tmp_path: Path) -> None:
    directory = Path(tempfile.mkdtemp(dir="/tmp"))  # not under pytest's private tmp tree
    try:
        _filled(directory)
        for path in [directory, *directory.rglob("*")]:
            path.chmod(0o555 if path.is_dir() else 0o444)
        out = subprocess.run(
            [sys.executable, "-c", _AS_READER, str(directory)],
            capture_output=True,
            text=True,
            timeout=120,
        )
    finally:
        for path in [directory, *directory.rglob("*")]:
            path.chmod(0o755 if path.is_dir() else 0o644)
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith(f"result store {directory}"), out.stdout
    assert "read-only" in out.stdout
    assert "writable" in out.stdout


_FULL = """
import resource, signal, sys
from kontext_widgets import StoreError
from kontext_widgets.store import Store
store = Store(sys.argv[1])
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails with EFBIG
resource.setrlimit(resource.RLIMIT_FSIZE, (4096, 4096))  # as if the disk filled up now
try:
    store.put_image(b"x" * 100_000)
except StoreError as exc:
    print(exc)
"""


def test_a_full_disk(tmp_path: Path) -> None:
    out = subprocess.run(
        [sys.executable, "-c", _FULL, str(tmp_path)], capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith(f"result store {tmp_path}"), out.stdout
    assert "disk is full" in out.stdout
    assert "free some space" in out.stdout
    assert not [p for p in (tmp_path / "images").rglob("*") if p.is_file()]  # no half file


def test_sqlite_and_os_full_disk_errors_read_the_same(tmp_path: Path) -> None:
    for exc in (sqlite3.OperationalError("database or disk is full"), OSError(errno.ENOSPC, "x")):
        assert "the disk is full" in str(store_error(tmp_path, exc))


def test_the_cli_says_it_in_one_line_even_for_a_fully_cached_rerun(tmp_path: Path) -> None:
    store = tmp_path / "store"
    args = ["sweep", "--prompt", "night", "--image", str(PERSON), "--seed", "1,2"]
    env = {**os.environ, "KONTEXT_WIDGETS_SIMULATOR_DIR": "off"}
    first = subprocess.run(
        [*CLI, *args, "--store", str(store)],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )
    assert first.returncode == 0, first.stderr
    (store / "store.sqlite3").write_bytes(b"\0garbage" * 512)
    for extra in ("store.sqlite3-wal", "store.sqlite3-shm"):
        (store / extra).unlink(missing_ok=True)
    again = subprocess.run(
        [*CLI, *args, "--store", str(store)],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )
    assert again.returncode == 1
    assert "Traceback" not in again.stderr
    assert again.stderr.strip().splitlines()[-1].startswith(f"error: result store {store}")
    assert "corrupt" in again.stderr
    assert len(list((store / "images").rglob("*.png"))) == 2  # what was paid for is still there
