"""The HTTP API in-process: uploads, JSON, limits and error statuses, on real images."""

from __future__ import annotations

import base64
import io
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image

from im2markup.serving.app import create_app
from im2markup.serving.limits import ServerLimits
from im2markup.serving.predictor import Predictor
from serving_fixtures import (
    bundled_model_dir,
    png_header_only,
)

pytestmark = pytest.mark.shared_data


MAX_REQUEST = 256 * 1024


@pytest.fixture(scope="module")
def client(predictor: Predictor):
    app = create_app(
        predictor, limits=ServerLimits(workers=1, queue_size=4, max_request_bytes=MAX_REQUEST)
    )
    with TestClient(app) as test_client:
        yield test_client


def upload(client: TestClient, data: bytes, name: str = "formula.png", **params: object):
    return client.post("/api/predict", params=params, files={"file": (name, data, "image/png")})


def test_healthz_names_the_model(client: TestClient, predictor: Predictor):
    body = client.get("/healthz").json()
    assert body["status"] == "ok"
    assert body["model"] == predictor.name
    assert body["capacity"] == 5


def test_openapi_documents_both_request_forms(client: TestClient):
    schema = client.get("/openapi.json").json()
    operation = schema["paths"]["/api/predict"]["post"]
    assert set(operation["requestBody"]["content"]) == {"multipart/form-data", "application/json"}
    assert {"408", "413", "415", "422", "501", "503", "504"} <= set(operation["responses"])


def test_multipart_upload_matches_the_python_api(
    client: TestClient, predictor: Predictor, images: list[Path]
):
    response = upload(client, images[0].read_bytes(), name="0.png", beam=5)
    assert response.status_code == 200, response.text
    body = response.json()
    expected = predictor.predict(images[0], beam_size=5)
    assert body["image"] == "0.png"
    assert (body["latex"], body["tokens"]) == (expected.latex, expected.tokens)
    assert body["score"] == pytest.approx(expected.score, abs=1e-3)
    assert body["attention"] is None and body["render_png"] is None


def test_json_base64_and_data_url_give_the_same_answer(client: TestClient, images: list[Path]):
    encoded = base64.b64encode(images[1].read_bytes()).decode()
    plain = client.post("/api/predict", json={"image_base64": encoded, "filename": "1.png"})
    data_url = client.post(
        "/api/predict", json={"image_base64": f"data:image/png;base64,{encoded}"}
    )
    multipart = upload(client, images[1].read_bytes())
    assert plain.status_code == data_url.status_code == 200
    assert plain.json()["image"] == "1.png"
    assert plain.json()["latex"] == data_url.json()["latex"] == multipart.json()["latex"]


def test_attention_maps_decode_to_one_map_per_token(client: TestClient, images: list[Path]):
    body = upload(client, images[0].read_bytes(), attention="true").json()
    maps = body["attention"]
    raw = np.frombuffer(base64.b64decode(maps["data"]), dtype=np.uint8)
    assert maps["tokens"] == body["tokens"].split()
    assert raw.size == len(maps["tokens"]) * maps["rows"] * maps["cols"]
    per_token = raw.reshape(len(maps["tokens"]), -1)
    assert (per_token.max(axis=1) == 255).all(), "each map is scaled to its own peak"
    model_input = Image.open(io.BytesIO(base64.b64decode(body["input_png"])))
    assert (maps["rows"], maps["cols"]) == (model_input.height // 8, model_input.width // 8)


@pytest.mark.latex
def test_render_returns_a_png_of_the_prediction(client: TestClient, images: list[Path]):
    if bundled_model_dir() is None:
        pytest.skip("a random model's prediction need not compile")
    body = upload(client, images[0].read_bytes(), render="true").json()
    assert body["render_error"] is None
    rendered = Image.open(io.BytesIO(base64.b64decode(body["render_png"])))
    assert rendered.mode == "L" and rendered.width > 0


def test_verify_or_refine_without_latex_is_501(
    client: TestClient, images: list[Path], monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv("PATH", "")
    for option in ("verify", "refine"):
        response = upload(client, images[0].read_bytes(), **{option: "true"})
        assert response.status_code == 501
        assert "pdflatex" in response.json()["detail"]


def test_request_over_the_size_limit_is_413(client: TestClient):
    response = upload(client, b"\x89PNG" + bytes(MAX_REQUEST))
    assert response.status_code == 413
    assert "limit" in response.json()["detail"]


def test_image_over_the_pixel_limit_is_413(client: TestClient):
    response = upload(client, png_header_only(20000, 20000), name="bomb.png")
    assert response.status_code == 413
    detail = response.json()["detail"]
    assert "bomb.png" in detail and "pixels" in detail and "limit" in detail


def test_text_file_named_png_is_415(client: TestClient):
    response = upload(client, b"\\frac{a}{b}\n", name="formula.png")
    assert response.status_code == 415
    assert "not an image" in response.json()["detail"]


def test_wrong_content_type_is_415(client: TestClient):
    response = client.post("/api/predict", content=b"abc", headers={"content-type": "text/plain"})
    assert response.status_code == 415
    assert "multipart/form-data" in response.json()["detail"]


@pytest.mark.parametrize(
    ("data", "reason"),
    [(b"", "empty"), ("blank", "no ink")],
)
def test_images_without_a_formula_are_422(client: TestClient, data: bytes | str, reason: str):
    if data == "blank":
        buffer = io.BytesIO()
        Image.new("L", (300, 60), 255).save(buffer, format="PNG")
        data = buffer.getvalue()
    response = upload(client, data)
    assert response.status_code == 422
    assert reason in response.json()["detail"]


def test_truncated_png_is_rejected_with_a_reason(client: TestClient, images: list[Path]):
    data = images[0].read_bytes()
    response = upload(client, data[: len(data) // 2], name="cut.png")
    assert response.status_code in (415, 422)
    assert "cut.png" in response.json()["detail"] and "truncated" in response.json()["detail"]


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        ({"image_base64": "***not base64***"}, "base64"),
        ({"picture": "abc"}, "image_base64"),
    ],
)
def test_malformed_json_is_422(client: TestClient, payload: dict, reason: str):
    response = client.post("/api/predict", json=payload)
    assert response.status_code == 422
    assert reason in response.json()["detail"]


def test_multipart_without_a_file_field_is_422(client: TestClient, images: list[Path]):
    response = client.post(
        "/api/predict", files={"image": ("x.png", images[0].read_bytes(), "image/png")}
    )
    assert response.status_code == 422
    assert "'file'" in response.json()["detail"]


def test_out_of_range_beam_is_422(client: TestClient, images: list[Path]):
    assert upload(client, images[0].read_bytes(), beam=0).status_code == 422


def test_page_and_its_assets_are_served_without_external_links(client: TestClient):
    page = client.get("/")
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    for asset in ("/static/app.js", "/static/app.css"):
        assert client.get(asset).status_code == 200
    for text in (page.text, client.get("/static/app.js").text, client.get("/static/app.css").text):
        assert "http://" not in text and "https://" not in text


def test_upload_names_lose_their_directories(client: TestClient, images: list[Path]):
    response = upload(client, images[0].read_bytes(), name="../../etc/formula.png")
    assert response.json()["image"] == "formula.png"


def test_no_page_loads_scripts_from_elsewhere(client: TestClient):
    """FastAPI's /docs would fetch Swagger UI from a CDN; an offline server must not offer it."""
    assert client.get("/docs").status_code == 404
    assert client.get("/openapi.json").status_code == 200
