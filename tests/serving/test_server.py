"""The server under load: a real uvicorn server, concurrent clients, a bounded queue, timeouts."""

from __future__ import annotations

import socket
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from im2markup.cli.main import main
from im2markup.serving.app import create_app
from im2markup.serving.limits import ServerLimits
from im2markup.serving.predictor import Predictor, Result, load_model
from serving_fixtures import TEST_IMAGE_IDS, running_server, serve_command, wait_until

pytestmark = pytest.mark.shared_data


class GatedPredictor(Predictor):
    """A real predictor that holds every call at a gate until the test opens it, and records
    how many calls were inside at once."""

    def __init__(self, base: Predictor):
        super().__init__(base.model, base.vocab, base.device, name=base.name)
        self.gate = threading.Event()
        self._lock = threading.Lock()
        self.inside = 0
        self.most_inside = 0

    def predict_batch(self, *args: object, **kwargs: object) -> list[Result]:
        with self._lock:
            self.inside += 1
            self.most_inside = max(self.most_inside, self.inside)
        try:
            if not self.gate.wait(timeout=60):
                raise RuntimeError("the test never opened the gate")
            return super().predict_batch(*args, **kwargs)
        finally:
            with self._lock:
                self.inside -= 1


@pytest.fixture(scope="module")
def image(images: list[Path]) -> Path:
    return images[TEST_IMAGE_IDS.index(5)]


def post(url: str, data: bytes) -> httpx.Response:
    files = {"file": ("5.png", data, "image/png")}
    return httpx.post(f"{url}/api/predict", files=files, params={"beam": 1}, timeout=90)


def test_requests_beyond_the_workers_queue_and_beyond_the_queue_get_503(
    model_dir: Path, image: Path
):
    plain = load_model(model_dir)
    expected = plain.predict(image, beam_size=1).latex
    gated = GatedPredictor(plain)
    app = create_app(gated, limits=ServerLimits(workers=2, queue_size=2))
    data = image.read_bytes()
    with running_server(app) as url, ThreadPoolExecutor(max_workers=4) as clients:
        held = [clients.submit(post, url, data) for _ in range(4)]
        wait_until(lambda: httpx.get(f"{url}/healthz").json()["pending"] == 4)
        assert gated.inside == 2, "only `workers` predictions may run at once"
        refused = post(url, data)
        assert refused.status_code == 503
        assert "busy" in refused.json()["detail"]
        assert refused.headers["retry-after"] == "1"
        gated.gate.set()
        answers = [future.result(timeout=120) for future in held]
    assert [a.status_code for a in answers] == [200] * 4
    assert {a.json()["latex"] for a in answers} == {expected}
    assert gated.most_inside == 2


def test_a_slow_request_gets_504_and_frees_its_slot_later(model_dir: Path, image: Path):
    gated = GatedPredictor(load_model(model_dir))
    timeout = 5.0  # long enough for the ungated request at the end to finish on a slow CPU
    app = create_app(gated, limits=ServerLimits(workers=1, queue_size=1, request_timeout_s=timeout))
    with running_server(app) as url:
        slow = post(url, image.read_bytes())
        assert slow.status_code == 504
        assert f"longer than {timeout:g} s" in slow.json()["detail"]
        assert httpx.get(f"{url}/healthz").json()["pending"] == 1, "the running call keeps its slot"
        gated.gate.set()
        wait_until(lambda: httpx.get(f"{url}/healthz").json()["pending"] == 0)
        assert post(url, image.read_bytes()).status_code == 200


def test_serve_command_starts_and_answers(model_dir: Path, image: Path):
    with serve_command(model_dir, "--workers", "1") as (url, _):
        answer = post(url, image.read_bytes())
    assert answer.status_code == 200
    assert answer.json()["latex"]


@pytest.mark.parametrize(
    "option", [("--queue", "-1"), ("--timeout", "0"), ("--max-request-mb", "nan")]
)
def test_serve_refuses_limits_that_cannot_work(
    option: tuple[str, str], capsys: pytest.CaptureFixture
):
    with pytest.raises(SystemExit) as exit_info:
        main(["serve", *option])
    assert exit_info.value.code == 2
    assert f"argument {option[0]}" in capsys.readouterr().err


def test_a_body_that_never_finishes_gets_408(model_dir: Path):
    limits = ServerLimits(read_timeout_s=0.5)
    app = create_app(load_model(model_dir), limits=limits)
    with running_server(app, limits) as url:
        host, port = url.removeprefix("http://").split(":")
        with socket.create_connection((host, int(port)), timeout=30) as sock:
            sock.sendall(
                b"POST /api/predict HTTP/1.1\r\nHost: test\r\n"
                b'Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"image_'
            )
            answer = b""
            while b"}" not in answer:
                chunk = sock.recv(4096)
                if not chunk:
                    break
                answer += chunk
    assert answer.startswith(b"HTTP/1.1 408")
    assert b"did not arrive in time" in answer


@pytest.mark.parametrize(
    ("int8", "cell"), [(True, "DynamicQuantizedLSTMCell"), (False, "LSTMCell")]
)
def test_the_server_decodes_with_int8_weights_unless_told_not_to(
    model_dir: Path, images: list[Path], int8: bool, cell: str
):
    from fastapi.testclient import TestClient

    with TestClient(create_app(model_dir, int8=int8)) as client:
        files = {"file": ("f.png", images[0].read_bytes(), "image/png")}
        assert client.post("/api/predict", files=files).status_code == 200
        assert client.app.state.predictor.model.decoder.cell._get_name() == cell
