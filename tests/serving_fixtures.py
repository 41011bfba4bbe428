"""Models, images and a local server for the prediction, API, server and browser tests.

The model (the `model_dir` fixture of `conftest.py`) is the bundled one when it exists, else a
small randomly initialised network saved the way trained ones are, so that loading, batching
and serving run end to end either way.
"""

from __future__ import annotations

import os
import signal
import socket
import struct
import subprocess
import sys
import tarfile
import threading
import time
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import numpy as np
import torch
import uvicorn
from PIL import Image

from im2markup.data.vocab import Vocab
from im2markup.evaluation.transforms import text_page
from im2markup.inference.loading import default_model_dir
from im2markup.model.config import preset
from im2markup.model.factory import build_model
from im2markup.model.io import save_model
from im2markup.serving.connections import server_config
from im2markup.serving.limits import ServerLimits

TEST_IMAGE_IDS = (0, 1, 3, 5, 9)


def bundled_model_dir() -> Path | None:
    """The bundled model directory, when one has been committed."""
    try:
        return default_model_dir()
    except FileNotFoundError:
        return None


def save_random_model(directory: Path, formulas: Path, max_len: int = 12, **config: object) -> Path:
    """A tiny model (seq2seq unless `config` says otherwise) with random weights and the
    vocabulary of some real formulas.

    The weight matrices are scaled ×3: at the usual initial scale an untrained model writes
    the same tokens for every image, which would let a test miss images being mixed up.
    """
    torch.manual_seed(0)
    lines = formulas.read_text(encoding="utf-8").splitlines()[:2000]
    vocab = Vocab.build(lines)
    cfg = preset("tiny", max_len=max_len, **config)
    model = build_model(cfg, len(vocab))
    with torch.no_grad():
        for weight in model.parameters():
            if weight.dim() > 1:
                weight.mul_(3.0)
    return save_model(model, cfg, vocab, directory, metadata={"note": "random weights, tests only"})


def extract_test_images(im2latex_dir: Path, ids: tuple[int, ...], dest: Path) -> list[Path]:
    """Shared test images `<id>.png` copied into `dest`, in the order of `ids`."""
    dest.mkdir(parents=True, exist_ok=True)
    wanted = {f"{i}.png" for i in ids}
    with tarfile.open(im2latex_dir / "images_test.tar") as tar:
        for member in tar:
            if member.isfile() and Path(member.name).name in wanted:
                (dest / Path(member.name).name).write_bytes(tar.extractfile(member).read())
    return [dest / f"{i}.png" for i in ids]


def gold_labels(im2latex_dir: Path, ids: tuple[int, ...]) -> list[set[str]]:
    """The accepted token forms of test images: the normalized formula and the space-stripped
    one the shared image actually shows."""
    forms = [
        (im2latex_dir / "formulas" / f"test.formulas.{kind}.txt").read_text().splitlines()
        for kind in ("norm", "nospace")
    ]
    return [{lines[i] for lines in forms} for i in ids]


def png_header_only(width: int, height: int) -> bytes:
    """A PNG whose header promises `width × height` gray pixels but holds almost no data:
    what a decompression bomb looks like before it is decoded."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    pixels = zlib.compress(b"\x00" * (width + 1) * 4)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")
    )


def write_bad_inputs(directory: Path, good_png: Path) -> dict[str, Path]:
    """One file per kind of bad input, named after what is wrong with it."""
    directory.mkdir(parents=True, exist_ok=True)
    data = good_png.read_bytes()
    files = {
        "empty": directory / "empty.png",
        "truncated": directory / "truncated.png",
        "text": directory / "text.png",
        "huge": directory / "huge.png",
        "blank": directory / "blank.png",
    }
    files["empty"].write_bytes(b"")
    files["truncated"].write_bytes(data[: len(data) // 2])
    files["text"].write_text("\\frac{a}{b} is not an image\n")
    files["huge"].write_bytes(png_header_only(20000, 20000))
    Image.fromarray(np.full((50, 200), 255, dtype=np.uint8)).save(files["blank"])
    return files


def text_page_png(formulas: Path, size: int = 1000) -> bytes:
    """A `size`×`size` page of text made of the lines of `formulas` (`transforms.text_page`)."""
    return text_page(formulas.read_text(encoding="utf-8").splitlines(), size)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def running_server(app: object, limits: ServerLimits | None = None) -> Iterator[str]:
    """Serve `app` as `im2markup serve` does (with the connection limits of `limits`) on a
    free local port in a background thread; yields its URL."""
    port = free_port()
    config = server_config(app, "127.0.0.1", port, limits or ServerLimits(), log_level="warning")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the test server did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)


def wait_until(condition: Callable[[], bool], seconds: float = 30.0) -> None:
    """Poll `condition` until it holds; fail the test after `seconds`."""
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        time.sleep(0.05)


@contextmanager
def serve_command(model_dir: Path, *options: str) -> Iterator[tuple[str, subprocess.Popen]]:
    """`im2markup serve --model MODEL_DIR OPTIONS` in a child process, once it answers
    `/healthz`; yields its URL and the process, and stops it with Ctrl-C afterwards."""
    port = free_port()
    command = [sys.executable, "-m", "im2markup.cli.main", "serve", "--model", str(model_dir)]
    server = subprocess.Popen(
        [*command, "--port", str(port), *options],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"

    def healthy() -> bool:
        if server.poll() is not None:
            raise AssertionError(f"server exited: {server.stderr.read()}")
        try:
            return httpx.get(f"{url}/healthz", timeout=2).status_code == 200
        except httpx.TransportError:
            return False

    try:
        wait_until(healthy, seconds=90)
        yield url, server
    finally:
        os.kill(server.pid, signal.SIGINT)
        server.wait(timeout=30)
