"""Bad input is refused before any I/O, with named errors: from Python and from the command line.

The command-line cases run the real entry point in a subprocess against a simulator over TCP,
so "nothing was sent" is the simulator's own count (no upload, no submit, no request at all).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import kontext_widgets as kw
from kontext_widgets import InvalidRequestError

PERSON = str(kw.samples.path("person"))
CLI = "import sys; from kontext_widgets.cli import main; sys.exit(main())"


def run_cli(*args: bytes | str, cwd: Path) -> subprocess.CompletedProcess[bytes]:
    # Bytes arguments go to the program as they are: a Latin-1 byte stays undecodable.
    argv = [os.fsencode(a) if isinstance(a, str) else a for a in args]
    return subprocess.run(
        [os.fsencode(sys.executable), b"-c", CLI.encode(), *argv],
        capture_output=True,
        timeout=300,
        cwd=cwd,
        env={**os.environ, "PYTHONIOENCODING": "utf-8"},
    )


def no_requests(server: Any) -> None:
    stats = server.stats()
    assert (stats["submits"], stats["uploads"], stats["tasks_created"]) == (0, 0, 0), stats


BAD_PROMPTS = [
    ("night \udcff", "encodes as UTF-8"),  # what argv bytes that are not UTF-8 become
    ("\ud800 lone", "encodes as UTF-8"),
    ("\u200b\x07\x1b  \t", "visible text"),  # only control and invisible format characters
]


@pytest.mark.parametrize(("prompt", "words"), BAD_PROMPTS)
async def test_kw_sweep_refuses_bad_prompts(
    simulator: Any, tmp_path: Path, prompt: str, words: str
) -> None:
    async with kw.Client(base_url=simulator.url) as client:
        with pytest.raises(InvalidRequestError) as caught:
            await kw.sweep(
                prompt=prompt,
                images=[PERSON],
                seed=[1, 2],
                client=client,
                store=tmp_path,
                progress=False,
            )
    assert caught.value.field == "prompt"
    assert words in str(caught.value)
    no_requests(simulator)


@pytest.mark.parametrize(
    ("axis", "values"),
    [
        ("seed", [1, 1]),
        ("seed", "1-3,2"),
        ("guidance_scale", [2.5, 2.5]),
        ("aspect_ratio", ["1:1", "1:1"]),
        ("prompt", ["a", "a"]),
    ],
)
async def test_kw_sweep_refuses_repeated_axis_values(
    simulator: Any, tmp_path: Path, axis: str, values: object
) -> None:
    arguments: dict[str, Any] = {"prompt": "night", "images": [PERSON], axis: values}
    async with kw.Client(base_url=simulator.url) as client:
        with pytest.raises(InvalidRequestError) as caught:
            await kw.sweep(**arguments, client=client, store=tmp_path, progress=False)
    assert caught.value.field == axis
    assert "once" in str(caught.value)
    no_requests(simulator)


def test_cli_refuses_a_prompt_byte_that_is_not_utf8(simulator: Any, tmp_path: Path) -> None:
    out = run_cli(
        "sweep",
        "--prompt",
        b"caf\xe9 at night",
        "--image",
        PERSON,
        "--seed",
        "1,2",
        "--base-url",
        simulator.url,
        "--store",
        str(tmp_path / "s"),
        cwd=tmp_path,
    )
    assert out.returncode == 2, out.stderr
    err = out.stderr.decode()
    assert "nothing was sent" in err
    assert "prompt" in err
    assert "UTF-8" in err
    assert "Traceback" not in err
    no_requests(simulator)


@pytest.mark.parametrize(
    "args",
    [
        ("--prompt", "\x07\x08"),
        ("--prompt", "night", "--seed", "1,1"),
        ("--prompt", "night", "--guidance", "2.5,2.5"),
    ],
)
def test_cli_refuses_empty_prompts_and_repeated_values(
    simulator: Any, tmp_path: Path, args: tuple[str, ...]
) -> None:
    out = run_cli(
        "sweep",
        *args,
        "--image",
        PERSON,
        "--base-url",
        simulator.url,
        "--store",
        str(tmp_path / "s"),
        cwd=tmp_path,
    )
    assert out.returncode == 2, out.stderr
    assert "nothing was sent" in out.stderr.decode()
    no_requests(simulator)


@pytest.mark.parametrize("kind", ["file", "images-is-a-file", "read-only-parent"])
def test_cli_checks_out_before_anything_is_spent(simulator: Any, tmp_path: Path, kind: str) -> None:
    out_dir = tmp_path / "out"
    if kind == "file":
        out_dir.write_text("a file")
    elif kind == "images-is-a-file":
        out_dir.mkdir()
        (out_dir / "images").write_text("x")
    else:
        out_dir = Path("/proc/kontext-widgets-out")  # a parent no one can write to
    out = run_cli(
        "sweep",
        "--prompt",
        "night",
        "--image",
        PERSON,
        "--seed",
        "1,2",
        "--base-url",
        simulator.url,
        "--store",
        str(tmp_path / "s"),
        "--out",
        str(out_dir),
        cwd=tmp_path,
    )
    assert out.returncode == 2, out.stderr
    err = out.stderr.decode()
    assert "nothing was sent" in err
    assert "--out" in err
    assert str(out_dir) in err
    assert "Errno 17" not in err
    assert "Traceback" not in err
    no_requests(simulator)
