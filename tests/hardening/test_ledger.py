"""Credentials in input URLs are refused (never stripped): the password reaches no artefact.

Refusing is the choice because the service fetches the URL itself: stripping ``user:pass@``
would send a different, unfetchable request; keeping it would store and show the password.
The refusal's message shows the URL as ``https://***@host/...``. This test makes every
artefact the key tests search (the store with its WAL, HTML, contact sheet, exported PNGs
and their text chunks, the CLI's JSON sidecars and output, the widget's traits and reprs,
logs) after trying the URL every way it can come in, and looks for the password in each.
"""

from __future__ import annotations

import json
import logging
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

import kontext_widgets as kw
from kontext_widgets import InvalidRequestError, KontextRequest
from kontext_widgets.inputs import InputList
from kontext_widgets.widget.messages import dispatch

from ..conftest import MakeSimulator

PASSWORD = "hunter2-Sup3rSecret"
PERSON = str(kw.samples.path("person"))
CLI = "import sys; from kontext_widgets.cli import main; sys.exit(main())"


def _all_bytes(directory: Path) -> list[tuple[Path, bytes]]:
    return [(p, p.read_bytes()) for p in sorted(directory.rglob("*")) if p.is_file()]


async def test_a_password_in_an_input_url_reaches_no_artefact(
    make_simulator: MakeSimulator, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    server = make_simulator(latency_s=0.0, output_long_side=64)
    secret_url = f"{server.url}/media/x.png".replace("http://", f"http://me:{PASSWORD}@")
    store_dir, out = tmp_path / "store", tmp_path / "out"
    texts: list[str] = []

    # Every way in is refused, naming the field; the message masks the credentials.
    refusals: list[BaseException] = []
    for attempt in (
        lambda: KontextRequest.build(prompt="night", images=[secret_url]),
        lambda: KontextRequest(prompt="night", images=(secret_url,)).payload(),
        lambda: InputList().add_url(secret_url),
        lambda: kw.KontextWidget(images=[secret_url]),
    ):
        with pytest.raises(InvalidRequestError) as caught:
            attempt()
        refusals.append(caught.value)
    async with kw.Client(base_url=server.url) as client:
        with pytest.raises(InvalidRequestError) as caught:
            await kw.sweep(
                prompt="night",
                images=[secret_url],
                seed=[1, 2],
                client=client,
                store=store_dir,
                progress=False,
            )
        refusals.append(caught.value)
        # A real sweep on the same store, so every artefact exists to be searched.
        result = await kw.sweep(
            prompt="night",
            images=[PERSON],
            seed=[1, 2],
            client=client,
            store=store_dir,
            progress=False,
        )
    for refusal in refusals:
        assert "***@" in str(refusal), refusal
    texts += [str(r) for r in refusals] + [repr(r) for r in refusals]

    widget = kw.KontextWidget(images=[PERSON], store=store_dir)
    assert dispatch(widget, {"type": "add_url", "url": secret_url}, [])  # from the front end
    assert "***@" in widget.error
    texts += [repr(widget), json.dumps(widget.get_state(), default=str)]
    widget.close()

    out.mkdir()
    written = [
        result.html(out / "sweep.html"),
        result.contact_sheet(out / "sheet.png"),
        *result.export_images(out / "images"),
    ]
    for path in written:
        if path.suffix == ".png":
            with Image.open(path) as image:
                texts.append(json.dumps(image.text))
    texts += [
        repr(result),
        result.summary(),
        json.dumps(result.records(), default=str),
        result.grid_html(),
        caplog.text,
    ]

    # The command line: refused with exit 2, and a normal generate's JSON sidecar beside it.
    cli_out = tmp_path / "cli"
    env = {**os.environ, "PYTHONIOENCODING": "utf-8"}
    for image in (secret_url, PERSON):
        done = subprocess.run(
            [
                sys.executable,
                "-c",
                CLI,
                "generate",
                "--prompt",
                "night",
                "--image",
                image,
                "--base-url",
                server.url,
                "--out",
                str(cli_out),
            ],
            capture_output=True,
            text=True,
            timeout=300,
            env=env,
            cwd=tmp_path,
        )
        assert done.returncode == (2 if image == secret_url else 0), done.stderr
        if image == secret_url:
            assert "nothing was sent" in done.stderr
            assert "***@" in done.stderr
        texts += [done.stdout, done.stderr]
    assert list(cli_out.glob("*.json"))

    db = sqlite3.connect(store_dir / "store.sqlite3")
    texts.append(json.dumps(db.execute("SELECT * FROM tasks").fetchall()))
    db.close()
    files = _all_bytes(store_dir) + _all_bytes(out) + _all_bytes(cli_out)
    assert any(p.name == "store.sqlite3" for p, _ in files)
    for path, data in files:  # store.sqlite3 and its -wal/-shm included
        assert PASSWORD.encode() not in data, path
    for text in texts:
        assert PASSWORD not in text
    assert server.stats()["submits"] == 3  # two sweep cells and the one normal generate
