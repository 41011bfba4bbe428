"""The HTTP API and the web page (FastAPI).

`POST /api/predict` takes an image as a multipart upload (field `file`) or as JSON
`{"image_base64": ...}` and answers with the LaTeX, optionally the server-side render of the
prediction and the per-token attention. Every upload is first read and screened in a process
of its own (`intake`, smallest first), so a page of text is refused before it can wait in the
decoding line; what passes goes through a bounded worker pool, so a burst of uploads waits in
a short line (or is refused with 503) instead of exhausting memory; a request that takes too
long is answered with 504 and its work stops there (`model.deadline`), so it does not hold a
worker any longer. Headers and body must arrive within the read timeout (`connections`).
Every answer carries the headers of `security_headers`. The schema is at `/openapi.json`;
FastAPI's `/docs` pages are off because they load scripts from a CDN.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

from fastapi import FastAPI, HTTPException, Query, Request
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles
from pydantic import ValidationError
from starlette.datastructures import UploadFile
from starlette.formparsers import MultiPartException

from im2markup import __version__
from im2markup.data.images.user_images import ImageInputError
from im2markup.data.render import RenderError
from im2markup.model.deadline import deadline_after
from im2markup.serving.connections import server_config
from im2markup.serving.inputs import screen_image, status_for
from im2markup.serving.intake import Intake, IntakeFull, ScreeningCrashed
from im2markup.serving.limits import ServerLimits
from im2markup.serving.pool import PoolFull, WorkerPool
from im2markup.serving.predictor import FailedPrediction, Predictor, load_model
from im2markup.serving.rerank import render_prediction
from im2markup.serving.schemas import ErrorBody, Health, ImagePayload, PredictResponse, to_response
from im2markup.serving.security_headers import SecurityHeaders

STATIC_DIR = Path(__file__).resolve().parent / "static"
ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorBody, "description": text}
    for code, text in {
        408: "the request body did not arrive within the read timeout",
        413: "request or image too large",
        415: "not a multipart upload, JSON, or an image file",
        422: "the image holds no formula (empty, blank) or far more than one (a page of "
        "text), or the JSON is malformed",
        501: "`verify` or `refine` asked for on a server that has no LaTeX to render with",
        503: "all workers busy and the queue full; retry later",
        504: "the prediction took longer than the request timeout",
    }.items()
}
REQUEST_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "properties": {"file": {"type": "string", "format": "binary"}},
                    "required": ["file"],
                }
            },
            "application/json": {"schema": ImagePayload.model_json_schema()},
        },
    }
}


@dataclass(frozen=True)
class Upload:
    name: str
    data: bytes


def create_app(
    model: Predictor | str | Path | None = None,
    device: str = "cpu",
    limits: ServerLimits | None = None,
    threads: int | None = None,
    int8: bool = True,
) -> FastAPI:
    """The application; `model` is a loaded `Predictor`, a model directory, or `None` for the
    bundled model (loaded when the server starts, not when the module is imported, with
    `threads` PyTorch threads and, on a CPU, int8 weights unless `int8` is False)."""
    limits = limits or ServerLimits()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.predictor = (
            model
            if isinstance(model, Predictor)
            else load_model(model, device, threads=threads, int8=int8)
        )
        app.state.pool = WorkerPool(limits.workers, limits.queue_size)
        app.state.intake = Intake(
            limits.screeners, limits.screen_queue_size, preload=(screen_image.__module__,)
        )
        await asyncio.to_thread(app.state.intake.warm_up)
        yield
        app.state.pool.shutdown()
        app.state.intake.shutdown()

    app = FastAPI(
        title="im2markup",
        summary="Images of mathematical formulas to LaTeX",
        version=__version__,
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
    )
    app.add_middleware(SecurityHeaders)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")

    @app.get("/", include_in_schema=False)
    async def index() -> FileResponse:
        return FileResponse(STATIC_DIR / "index.html")

    @app.get("/healthz", response_model=Health)
    async def healthz(request: Request) -> Health:
        predictor: Predictor = request.app.state.predictor
        pool: WorkerPool = request.app.state.pool
        intake: Intake = request.app.state.intake
        load = pool.load()
        return Health(
            status=load.status,
            model=predictor.name,
            device=str(predictor.device),
            workers=pool.workers,
            running=load.running,
            queued=load.pending - load.running,
            pending=load.pending,
            capacity=pool.capacity,
            screening=intake.running + intake.waiting,
        )

    @app.post(
        "/api/predict", response_model=PredictResponse, responses=ERRORS, openapi_extra=REQUEST_BODY
    )
    async def predict(
        request: Request,
        beam: Annotated[
            int | None, Query(ge=1, le=20, description="beam size (default: the model's)")
        ] = None,
        attention: Annotated[bool, Query(description="add per-token attention maps")] = False,
        render: Annotated[bool, Query(description="add a render of the prediction")] = False,
        verify: Annotated[bool, Query(description="rerank the beam by rendering")] = False,
        refine: Annotated[
            bool, Query(description="rerank, then try close variants of the best by rendering")
        ] = False,
    ) -> PredictResponse:
        try:
            upload = await asyncio.wait_for(
                _read_upload(request, limits.max_request_bytes), limits.read_timeout_s
            )
        except TimeoutError as err:
            raise HTTPException(408, "the request body did not arrive in time") from err
        predictor: Predictor = request.app.state.predictor
        pool: WorkerPool = request.app.state.pool
        intake: Intake = request.app.state.intake
        deadline = deadline_after(limits.request_timeout_s)
        try:
            await intake.run(
                len(upload.data), screen_image, upload.data, *predictor.screening_settings
            )
            return await pool.run(
                _predict,
                predictor,
                upload,
                (beam, attention, render, verify, refine),
                deadline,
                timeout=limits.request_timeout_s,
            )
        except (PoolFull, IntakeFull) as err:
            raise HTTPException(503, f"server busy: {err}", headers={"Retry-After": "1"}) from err
        except TimeoutError as err:
            raise HTTPException(
                504, f"prediction took longer than {limits.request_timeout_s:g} s"
            ) from err
        except ImageInputError as err:
            raise HTTPException(status_for(err), f"{upload.name}: {err}") from err
        except ScreeningCrashed as err:
            raise HTTPException(422, f"{upload.name}: the image could not be read ({err})") from err
        except RenderError as err:
            raise HTTPException(
                501, f"verify and refine are unavailable on this server: {err}"
            ) from err

    return app


def _predict(
    predictor: Predictor,
    upload: Upload,
    options: tuple[int | None, bool, bool, bool, bool],
    deadline: float | None,
) -> PredictResponse:
    """The blocking part of a request, run on a pool thread; it stops at `deadline`."""
    beam, attention, render, verify, refine = options
    (prediction,) = predictor.predict_batch(
        [upload.data],
        beam_size=beam,
        attention=attention,
        verify=verify,
        refine=refine,
        deadline=deadline,
    )
    if isinstance(prediction, FailedPrediction):
        raise ImageInputError(prediction.error, prediction.kind)
    image, error = render_prediction(prediction.latex, predictor.limits) if render else (None, None)
    return to_response(upload.name, prediction, image, error, with_input=attention or render)


async def _read_upload(request: Request, max_bytes: int) -> Upload:
    """The image bytes of a multipart or JSON request, read no further than `max_bytes`."""
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type not in ("multipart/form-data", "application/json"):
        raise HTTPException(
            415, f"send multipart/form-data (field 'file') or application/json, not {media_type!r}"
        )
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > max_bytes:
        raise HTTPException(413, f"request of {declared} bytes; the limit is {max_bytes}")
    body = bytearray()
    async for chunk in request.stream():
        body.extend(chunk)
        if len(body) > max_bytes:
            raise HTTPException(413, f"request larger than the limit of {max_bytes} bytes")
    if media_type == "application/json":
        return _json_upload(bytes(body))
    return await _multipart_upload(request, bytes(body))


async def _multipart_upload(request: Request, body: bytes) -> Upload:
    """Parse a multipart body that was already read (and size-checked)."""

    async def replay() -> dict[str, Any]:
        return {"type": "http.request", "body": body, "more_body": False}

    try:
        form = await Request(request.scope, replay).form(max_files=1, max_fields=8)
    except (HTTPException, MultiPartException) as err:
        reason = getattr(err, "detail", err)
        raise HTTPException(422, f"malformed multipart body: {reason}") from err
    file = form.get("file")
    if not isinstance(file, UploadFile):
        raise HTTPException(422, "multipart body has no file field named 'file'")
    return Upload(_display_name(file.filename), await file.read())


def _json_upload(body: bytes) -> Upload:
    try:
        payload = ImagePayload.model_validate_json(body)
    except ValidationError as err:
        raise HTTPException(
            422, f"expected JSON {{'image_base64': ...}}: {err.errors()[0]['msg']}"
        ) from err
    text = payload.image_base64
    if text.startswith("data:"):
        text = text.partition(",")[2]
    try:
        data = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as err:
        raise HTTPException(422, f"image_base64 is not valid base64: {err}") from err
    return Upload(_display_name(payload.filename), data)


def _display_name(filename: str | None) -> str:
    """The client's file name without any directory part, short enough for a message."""
    name = Path(filename or "").name[:200]
    return name or "upload"


def serve(
    host: str = "127.0.0.1",
    port: int = 8000,
    model: str | Path | None = None,
    device: str = "cpu",
    limits: ServerLimits | None = None,
    threads: int | None = None,
    int8: bool = True,
) -> None:
    """Run the server until interrupted; `limits.workers` threads share one loaded model."""
    import uvicorn

    limits = limits or ServerLimits()
    app = create_app(model, device, limits, threads, int8)
    uvicorn.Server(server_config(app, host, port, limits)).run()


__all__ = ["create_app", "serve"]
