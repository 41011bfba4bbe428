"""Adversarial use, as a new user or an attacker tries it on a fresh install.

One test (or a few) per defect found that way: a small upload holding the server for minutes,
a TeX check talked around at run time, a FIFO on the command line, connections that never
finish their headers, missing security headers, unreadable checkpoints, loose Python API
arguments, and a killed renderer's leftovers. Each failed on the code before the fix.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image

from im2markup.cli.main import main
from im2markup.data.formula_images import render_formulas
from im2markup.data.images.user_images import read_user_image
from im2markup.data.render.checks import precheck
from im2markup.data.render.compile import tex_environment
from im2markup.latex.allow_list import ALLOWED_COMMANDS, ALLOWED_ENVIRONMENTS, outside_allow_list
from im2markup.serving.app import create_app
from im2markup.serving.limits import ServerLimits
from im2markup.serving.predictor import Predictor
from im2markup.training.checkpoint import latest_checkpoint, save_checkpoint
from serving_fixtures import running_server, serve_command, text_page_png, wait_until

pytestmark = pytest.mark.shared_data

# The longest of the first 200 test formulas (141 tokens): a 2×2 array of partial derivatives.
LONG_FORMULA = 82


@pytest.fixture(scope="module")
def text_page(im2latex_dir: Path) -> bytes:
    return text_page_png(im2latex_dir / "formulas" / "test.formulas.norm.txt")


@pytest.fixture(scope="module")
def long_formula(tmp_path_factory: pytest.TempPathFactory, im2latex_dir: Path) -> Path:
    """A long test formula as IM2LATEX-100K typeset it: paper style at 200 dpi, cropped."""
    lines = (im2latex_dir / "formulas" / "test.formulas.norm.txt").read_text().splitlines()
    [result] = render_formulas([lines[LONG_FORMULA]], style="paper", processed=False)
    path = tmp_path_factory.mktemp("long") / f"{LONG_FORMULA}.png"
    result.image.save(path)
    return path


def upload(url: str, data: bytes, timeout: float = 120) -> httpx.Response:
    files = {"file": ("upload.png", data, "image/png")}
    return httpx.post(f"{url}/api/predict", files=files, timeout=timeout)


def health(url: str) -> dict:
    return httpx.get(f"{url}/healthz", timeout=10).json()


# 1. A small upload held the server for minutes; timed-out work kept its slot.


def test_a_page_of_text_is_refused_at_once(predictor: Predictor, text_page: bytes):
    app = create_app(predictor, limits=ServerLimits(request_timeout_s=10))
    with TestClient(app) as client:
        start = time.monotonic()
        answer = client.post("/api/predict", files={"file": ("page.png", text_page, "image/png")})
        seconds = time.monotonic() - start
    assert answer.status_code == 422, answer.text
    assert "more than one formula" in answer.json()["detail"]
    assert seconds < 5


@pytest.mark.latex
def test_a_prediction_past_its_timeout_stops_and_frees_its_worker(
    predictor: Predictor, long_formula: Path
):
    predictor.predict(long_formula)
    start = time.monotonic()
    predictor.predict(long_formula)
    full = time.monotonic() - start
    limits = ServerLimits(request_timeout_s=full / 5)
    with running_server(create_app(predictor, limits=limits), limits) as url:
        with ThreadPoolExecutor(max_workers=1) as client:
            slow = client.submit(upload, url, long_formula.read_bytes())
            wait_until(lambda: health(url)["running"] == 1)
            busy = health(url)
            answer = slow.result()
        answered = time.monotonic()
        wait_until(lambda: health(url)["pending"] == 0, seconds=2 * full)
        freed_after = time.monotonic() - answered
    assert busy["status"] == "busy" and busy["queued"] == 0
    assert answer.status_code == 504
    assert freed_after < full / 4, f"the work went on {freed_after:.2f} s of {full:.2f} s"


def test_ten_pages_of_text_at_once_leave_the_server_answering(
    model_dir: Path, images: list[Path], text_page: bytes
):
    """A formula sent right behind ten pages of text is answered at its first try, within
    seconds of its time alone: the pages are refused while they are screened, before they can
    fill the decoding line. The server stays far below 2 GiB."""
    formula = images[0].read_bytes()
    with serve_command(model_dir, "--timeout", "30") as (url, server):
        upload(url, formula)
        start = time.monotonic()
        assert upload(url, formula).status_code == 200
        usual = time.monotonic() - start
        with ThreadPoolExecutor(max_workers=11) as clients:
            pages = [clients.submit(upload, url, text_page) for _ in range(10)]
            start = time.monotonic()
            answer = upload(url, formula)
            behind_pages = time.monotonic() - start
            statuses = [page.result().status_code for page in pages]
        peak_kib = int(Path(f"/proc/{server.pid}/status").read_text().split("VmHWM:")[1].split()[0])
    assert answer.status_code == 200
    assert statuses == [422] * 10
    assert behind_pages < usual + 5, (behind_pages, usual)
    assert peak_kib < 2 * 1024 * 1024


# 2. The word list was talked around: commands built at run time, state leaking to the next
# formula, and that formula's wrong image kept in the render cache.


RUN_TIME_TRICKS = [
    r"\ExpandArgs{c}\relax{global}\ExpandArgs{c}\relax{let}\alpha\beta x",
    r"\begin{\detokenize{input}}{batch.tex}\end{\detokenize{input}}",
    r"\begin{align}x\end{align}\begin x",
    r"\openout15=pwned6.tex x",
    r"\input{batch.tex}",
    r"\csname input\endcsname{batch.tex}",
    r"\def\x{\x}\x",
    r"\global\let\alpha\beta",
    r"\write18{touch pwned}",
    r"\catcode`\~=0 x",
    r"\mathbb{R} \@ x",
    r"^^5cinput{batch.tex}",
]


@pytest.mark.parametrize("formula", RUN_TIME_TRICKS)
def test_only_math_reaches_tex(formula: str):
    assert precheck(formula) is not None


@pytest.mark.parametrize("formula", RUN_TIME_TRICKS)
def test_the_allow_list_alone_refuses_them(formula: str):
    """The word list is only a second line: the allow-list must not need it."""
    assert outside_allow_list(formula) is not None


@pytest.mark.latex
def test_a_formula_cannot_poison_the_render_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
):
    """With a shared render cache, the second evaluation must score what a fresh cache scores:
    a formula that changed how `\\alpha` renders must not have left that image in the cache."""
    gold = tmp_path / "gold.txt"
    gold.write_text("x\n\\beta\n")
    poisoning = tmp_path / "p1.txt"
    poisoning.write_text(
        r"\ExpandArgs{c}\relax{global}\ExpandArgs{c}\relax{let}\alpha\beta x" "\n\\alpha\n"
    )
    honest = tmp_path / "p2.txt"
    honest.write_text("x\n\\alpha\n")

    def image_match(predictions: Path, cache: Path) -> float:
        monkeypatch.setenv("IM2MARKUP_CACHE", str(cache))
        out = tmp_path / f"{predictions.stem}-{cache.name}"
        argv = ["evaluate", "--gold", str(gold), str(predictions), "--out", str(out), "--quiet"]
        assert main(argv) == 0, capsys.readouterr().err
        return json.loads((out / "metrics.json").read_text())["image_match"]

    image_match(poisoning, tmp_path / "shared")
    assert image_match(honest, tmp_path / "shared") == image_match(honest, tmp_path / "fresh") == 50


@pytest.mark.latex
@pytest.mark.parametrize("style", ["paper", "shared"])
def test_no_allowed_command_changes_how_the_next_formula_renders(style: str):
    """Every allowed command (between symbols, with three arguments) and environment, typeset
    in one batch each right before the same probe formula: the probe must come out as it
    does alone."""
    probe = (
        r"\alpha \mathrm{d} x^{2} \frac{a}{b} \left( \sum_{i} \right) "
        r"\begin{array}{c} y \end{array}"
    )
    formulas = [f"x \\{name}{{x}}{{y}}{{z}} y" for name in sorted(ALLOWED_COMMANDS)]
    formulas = [formula for formula in formulas if precheck(formula) is None]
    formulas += [rf"\begin{{{env}}}{{c}} x \\ y \end{{{env}}}" for env in ALLOWED_ENVIRONMENTS]
    # Each probe its own comment: the renderer typesets a repeated formula only once.
    batch = [item for k, formula in enumerate(formulas) for item in (formula, f"{probe} % {k}")]
    results = render_formulas(batch, style=style, processed=False, timeout=10)
    [alone] = render_formulas([probe], style=style, processed=False)
    expected = np.asarray(alone.image)
    changed = [
        formula
        for formula, result in zip(formulas, results[1::2], strict=True)
        if result.image is None or not np.array_equal(np.asarray(result.image), expected)
    ]
    assert len(formulas) > 400 and not changed


@pytest.mark.latex
@pytest.mark.parametrize("variable", ["openin_any", "openout_any"])
def test_tex_runs_with_paranoid_file_access(variable: str):
    finished = subprocess.run(
        ["kpsewhich", f"--var-value={variable}"],
        env=tex_environment(),
        capture_output=True,
        text=True,
        check=True,
    )
    assert finished.stdout.strip() == "p"


# 3. A FIFO named on the command line hung `predict` forever.


def test_predict_skips_a_fifo_instead_of_waiting_for_a_writer(
    model_dir: Path, images: list[Path], tmp_path: Path
):
    fifo = tmp_path / "b.png"
    os.mkfifo(fifo)
    command = [sys.executable, "-m", "im2markup.cli.main", "predict", "--model", str(model_dir)]
    finished = subprocess.run(
        [*command, str(images[0]), str(fifo), str(images[1])],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert finished.returncode == 0, finished.stderr
    assert len(finished.stdout.splitlines()) == 2
    assert "b.png is not a regular file" in finished.stderr


# 4. Connections that never finished their headers were held forever.


def test_connections_that_never_finish_their_headers_are_closed(predictor: Predictor):
    limits = ServerLimits(read_timeout_s=1.0)
    with running_server(create_app(predictor, limits=limits), limits) as url:
        host, port = url.removeprefix("http://").split(":")
        sockets = [socket.create_connection((host, int(port)), timeout=15) for _ in range(50)]
        start = time.monotonic()
        for sock in sockets:
            sock.sendall(b"POST /api/predict HTTP/1.1\r\nHost: test\r\nContent-")
        with contextlib.suppress(OSError):  # a byte now and then does not keep it open either
            for _ in range(5):
                time.sleep(0.3)
                sockets[0].sendall(b"x")
        closed = [closed_by_server(sock) for sock in sockets]
        seconds = time.monotonic() - start
        for sock in sockets:
            sock.close()
        assert httpx.get(f"{url}/healthz").status_code == 200
    assert all(closed) and seconds < 8


def closed_by_server(sock: socket.socket) -> bool:
    """Whether the server closes `sock` (waiting up to the socket's timeout)."""
    try:
        return sock.recv(1) == b""
    except ConnectionResetError:
        return True


# 5. No Content-Security-Policy, X-Content-Type-Options or X-Frame-Options.


@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", "/"), ("GET", "/static/app.js"), ("GET", "/healthz"), ("POST", "/api/predict")],
)
def test_every_answer_carries_the_security_headers(predictor: Predictor, method: str, path: str):
    with TestClient(create_app(predictor)) as client:
        answer = client.request(method, path, content=b"not an image")
    policy = dict(
        directive.strip().split(" ", 1)
        for directive in answer.headers["content-security-policy"].split(";")
    )
    assert policy["default-src"] == "'self'" and policy["img-src"] == "'self' data:"
    assert policy["object-src"] == policy["frame-ancestors"] == "'none'"
    assert answer.headers["x-content-type-options"] == "nosniff"
    assert answer.headers["x-frame-options"] == "DENY"


# 6. Unreadable checkpoints: a raw traceback, or an older one taken without a word.


def test_a_run_without_a_readable_checkpoint_is_refused_in_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
):
    monkeypatch.setenv("IM2MARKUP_RUNS", str(tmp_path))
    checkpoints = tmp_path / "broken" / "checkpoints"
    checkpoints.mkdir(parents=True)
    (checkpoints / "step-00000010.pt").write_bytes(b"PK\x03\x04 truncated")
    (checkpoints / "last.pt").write_bytes(b"")
    status = main(["train", "--resume", "broken"])
    err = capsys.readouterr().err
    assert status == 2
    assert err.startswith("im2markup train: no readable checkpoint") and "Traceback" not in err


def test_a_truncated_newest_checkpoint_is_skipped_with_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
):
    import torch

    for step in (5, 6):
        save_checkpoint({"step": step, "model": {"w": torch.zeros(2)}}, tmp_path, keep=3)
    newest = tmp_path / "step-00000006.pt"
    newest.write_bytes(newest.read_bytes()[:100])
    (tmp_path / "last.pt").unlink()
    assert latest_checkpoint(tmp_path)["step"] == 5
    assert any(
        record.levelname == "WARNING" and newest.name in record.getMessage()
        for record in caplog.records
    )


# 7. Python API: beam sizes that are not positive integers, and float images.


@pytest.mark.parametrize("beam", [0, -1, 2.5, True])
def test_a_beam_size_that_is_not_a_positive_integer_is_refused(
    predictor: Predictor, images: list[Path], beam: object
):
    with pytest.raises(ValueError, match="beam_size must be a positive integer"):
        predictor.predict(images[0], beam_size=beam)  # type: ignore[arg-type]


def test_a_float_image_of_8_bit_values_reads_as_its_8_bit_original(images: list[Path]):
    gray = Image.open(images[0]).convert("L")
    as_float = Image.fromarray(np.asarray(gray).astype(np.float32))
    assert as_float.mode == "F"
    assert np.array_equal(read_user_image(as_float), read_user_image(gray))


# 8. `kill -9` of `render` left its work directories in the temp folder.


@pytest.mark.latex
def test_a_killed_render_leaves_no_work_directory_behind(im2latex_dir: Path, tmp_path: Path):
    formulas = tmp_path / "formulas.txt"
    lines = (im2latex_dir / "formulas" / "val.formulas.norm.txt").read_text().splitlines()
    formulas.write_text("\n".join(lines[:3000]) + "\n")
    temp = tmp_path / "tmp"
    temp.mkdir()
    env = {**os.environ, "TMPDIR": str(temp), "IM2MARKUP_CACHE": str(tmp_path / "cache")}
    command = [sys.executable, "-m", "im2markup.cli.main", "render", str(formulas)]
    render = subprocess.Popen(
        [*command, str(tmp_path / "out")],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_until(lambda: any(temp.rglob("batch.tex")), seconds=120)
    finally:
        render.kill()
        render.wait()
    wait_until(lambda: not any(temp.iterdir()), seconds=20)
