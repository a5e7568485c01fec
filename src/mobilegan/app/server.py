"""The local web page's server: FastAPI, one static page, and a JSON API.

``POST /api/segment`` takes one or more images (multipart, parts named ``files``) and
answers one entry per file: numbers plus base64 images, or a message saying why that
file was refused. ``?format=csv`` answers the same as a CSV table. ``GET /api/health``
says which model runs and the limits. Uploads are processed in memory (see
:mod:`mobilegan.app.uploads`); the network runs in a worker thread, one image at a time,
so the event loop stays free and the model is never called concurrently.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import FileResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect

from mobilegan.app import payload
from mobilegan.data.layouts import IMAGE_FORMATS
from mobilegan.inference.batch import UniqueIds
from mobilegan.app.uploads import (MultipartReader, RequestRejected, Upload, UploadLimits,
                                   decode_upload, keep_upload, megabytes)

log = logging.getLogger("mobilegan.app")
_HTTP_ERRORS = {404: "no such page or endpoint: the API is GET /api/health and POST /api/segment",
                405: "method not allowed: GET /api/health, POST /api/segment"}
STATIC = Path(__file__).resolve().parent / "static"
#: The page loads only its own files; images come back as data and blob URLs.
_CSP = ("default-src 'self'; img-src 'self' data: blob:; connect-src 'self' blob: data:; "
        "style-src 'self'; script-src 'self'; object-src 'none'; frame-ancestors 'none'")


def _version() -> str:
    try:
        return version("mobilegan")
    except PackageNotFoundError:
        return "unknown"


class SegmentService:
    """Everything the endpoints need, without HTTP: decode, segment, encode each upload."""

    def __init__(self, segmenter: Any, limits: UploadLimits, keep_dir: Path | None = None) -> None:
        self.segmenter = segmenter
        self.limits = limits
        self.keep_dir = keep_dir
        self.backend = str(getattr(segmenter.backend, "name", "torch"))
        self.samples = int(segmenter.samples)
        self._lock = threading.Lock()

    def health(self) -> dict[str, Any]:
        return {
            "status": "ok",
            "version": _version(),
            "backend": self.backend,
            "samples": self.samples,
            "uncertainty": self.samples > 1,
            "uncertainty_note": payload.uncertainty_note(self.backend, self.samples),
            "formats": IMAGE_FORMATS,
            "max_upload_mb": round(self.limits.max_upload_mb, 3),
            "max_pixels": self.limits.max_pixels,
            "max_files": self.limits.max_files,
            "max_requests": self.limits.max_requests,
            "keeps_uploads": self.keep_dir is not None,
            "notice": payload.RESEARCH_NOTICE,
        }

    def segment(self, uploads: list[Upload]) -> list[dict[str, Any]]:
        ids = UniqueIds()  # a.jpg and a.png in one request download as a_* and a_2_*
        return [self.segment_one(upload, ids(upload.id)) for upload in uploads]

    def segment_one(self, upload: Upload, id: str | None = None) -> dict[str, Any]:
        start = time.perf_counter()
        id = id or upload.id
        if self.keep_dir is not None and upload.error is None and upload.size:
            try:
                keep_upload(self.keep_dir, upload)
            except OSError:
                log.exception("could not keep %s in %s", upload.filename, self.keep_dir)
        try:
            rgb = decode_upload(upload, self.limits)
        except ValueError as error:
            return payload.failure(upload.filename, id, str(error))
        try:
            with self._lock:
                result = self.segmenter.predict(rgb, id=id)
            return payload.success(upload.filename, id, rgb, result, self.backend,
                                   self.samples, time.perf_counter() - start)
        except Exception:  # noqa: BLE001 - the user gets a sentence, the log gets the trace
            log.exception("segmenting %s failed", upload.filename)
            return payload.failure(upload.filename, id,
                                   f"{upload.filename} could not be segmented because of an "
                                   f"internal error (details are in the server's log)")
        finally:
            upload._buffer = bytearray()  # drop the image bytes as soon as we are done


def create_app(segmenter: Any, limits: UploadLimits | None = None,
               keep_uploads: str | Path | None = None) -> FastAPI:
    """The web app around a ready :class:`~mobilegan.inference.segmenter.Segmenter`."""
    service = SegmentService(segmenter, limits or UploadLimits(),
                             Path(keep_uploads) if keep_uploads else None)
    app = FastAPI(title="MobileGAN lesion segmentation", version=_version(),
                  docs_url=None, redoc_url=None, openapi_url="/api/openapi.json")
    app.state.service = service
    admitted = asyncio.Semaphore(service.limits.max_requests)

    @app.middleware("http")
    async def headers(request: Request, call_next):  # type: ignore[no-untyped-def]
        response = await call_next(request)
        response.headers["Content-Security-Policy"] = _CSP
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "no-referrer"
        if request.url.path.startswith("/api/"):
            response.headers["Cache-Control"] = "no-store"  # results are patient data
        return response

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, error: StarletteHTTPException) -> JSONResponse:
        # Unknown paths and methods answer as the app's own errors do: {"error": ...}.
        return JSONResponse({"error": _HTTP_ERRORS.get(error.status_code, str(error.detail))},
                            status_code=error.status_code, headers=error.headers)

    @app.api_route("/", methods=["GET", "HEAD"], include_in_schema=False)
    async def index() -> FileResponse:
        return FileResponse(STATIC / "index.html", media_type="text/html")

    @app.api_route("/api/health", methods=["GET", "HEAD"])  # HEAD: `curl -I`, uptime checks
    async def health() -> dict[str, Any]:
        return service.health()

    @app.post("/api/segment")
    async def segment(request: Request, format: str = "json") -> Response:
        unknown = sorted(set(request.query_params) - {"format"})
        if unknown:  # a script must not believe it set a threshold the server ignores
            return _error(400, f"unknown parameter(s) {', '.join(unknown)}: the only one is "
                               f"format (json or csv); sampling, TTA and the threshold are set "
                               f"when `mobilegan serve` starts")
        if format not in ("json", "csv"):
            return _error(400, "format must be json or csv")
        try:
            _check_declared_length(request, service.limits)  # refused before any wait
        except RequestRejected as rejected:
            return _error(rejected.status, rejected.message)
        async with admitted:  # later requests wait here, their bodies not yet read
            try:
                uploads = await _read_uploads(request, service.limits)
            except RequestRejected as rejected:
                return _error(rejected.status, rejected.message)
            if not uploads:
                return _error(400, "no image in the upload: send one or more files in parts "
                                   "named 'files'")
            results = await run_in_threadpool(service.segment, uploads)
        if format == "csv":
            return Response(payload.to_csv(results), media_type="text/csv",
                            headers={"Content-Disposition":
                                     'attachment; filename="mobilegan_results.csv"'})
        return JSONResponse({"results": results})

    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    return app


#: Seconds an upload may send nothing before it is dropped (HTTP 408): a client that
#: stalls mid-body would otherwise keep one of the ``max_requests`` places for ever.
UPLOAD_IDLE_S = 30.0
#: A client that trickles a byte now and then never stalls for UPLOAD_IDLE_S, yet keeps its
#: place as long: after UPLOAD_GRACE_S an upload must have averaged UPLOAD_MIN_BYTES_PER_S
#: (10 KB/s lets a 20 MB image through a 0.1 Mbit/s link; a trickle is dropped in a minute).
UPLOAD_GRACE_S = 60.0
UPLOAD_MIN_BYTES_PER_S = 10 * 1024


def _check_declared_length(request: Request, limits: UploadLimits) -> None:
    """A body announced as too large is refused at once, before it waits for a place."""
    length = request.headers.get("content-length")
    if length and length.isdigit() and int(length) > limits.max_request_bytes:
        raise RequestRejected(413, f"the upload is {megabytes(int(length))}; this server takes "
                                   f"at most {limits.max_files} images of up to "
                                   f"{limits.max_upload_mb:g} MB each")


async def _read_uploads(request: Request, limits: UploadLimits) -> list[Upload]:
    """Stream the body into memory, refusing it as soon as it breaks a limit, stalls for
    ``UPLOAD_IDLE_S`` or falls below ``UPLOAD_MIN_BYTES_PER_S`` on average after
    ``UPLOAD_GRACE_S`` (a too-large declared length is refused before, by the caller)."""
    reader = MultipartReader(request.headers.get("content-type", ""), limits)
    chunks = request.stream().__aiter__()
    started, received = time.monotonic(), 0
    while True:
        # The moment the average rate would fall below the minimum if nothing more came.
        too_slow_in = started + UPLOAD_GRACE_S + received / UPLOAD_MIN_BYTES_PER_S - time.monotonic()
        try:
            if too_slow_in <= 0:
                raise TimeoutError
            chunk = await asyncio.wait_for(chunks.__anext__(), min(UPLOAD_IDLE_S, too_slow_in))
        except StopAsyncIteration:
            break
        except TimeoutError:  # the stream is cancelled: no waiting on it again
            if too_slow_in < UPLOAD_IDLE_S:
                raise RequestRejected(408, f"the upload came too slowly (under "
                                           f"{UPLOAD_MIN_BYTES_PER_S // 1024} KB/s on average) "
                                           f"and was dropped; send it again") from None
            raise RequestRejected(408, f"the upload sent nothing for {UPLOAD_IDLE_S:g} s and "
                                       f"was dropped; send it again") from None
        except ClientDisconnect:
            # A closed tab mid-upload: nobody is left to answer, and it is not a server
            # error (it logged a whole traceback as one). 499 is nginx's word for it.
            raise RequestRejected(499, "the client went away during the upload") from None
        received += len(chunk)
        reader.feed(chunk)
    return reader.finish()


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


def warm_up(segmenter: Any) -> None:
    """One small prediction, so that the first real image is not slowed by lazy set-up."""
    import numpy as np

    segmenter.predict(np.zeros((64, 64, 3), dtype=np.uint8), id="warm-up")
