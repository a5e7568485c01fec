"""The web API through httpx (FastAPI's TestClient), with the torch and the ONNX backend,
real ISIC images, and the files a web page must survive: corrupt, truncated, not an
image, decompression bombs, too large, too many."""

from __future__ import annotations

import base64
import csv
import io
import struct
import tempfile
import time
import warnings
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

pytest.importorskip("fastapi", reason="the web extras: pip install 'mobilegan[app]'")

with warnings.catch_warnings():  # starlette's note about httpx2: not ours to act on
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient  # noqa: E402

from mobilegan.app.server import create_app  # noqa: E402
from mobilegan.app.uploads import UploadLimits  # noqa: E402

pytestmark = [pytest.mark.filterwarnings("ignore::DeprecationWarning"),
              pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")]
IMAGE_ID = "ISIC_0012152"  # ISIC 2017 test, not in the ISIC 2018 training set


@pytest.fixture(scope="module")
def model_files(tmp_path_factory) -> dict[str, Path]:
    """An untrained MobileGAN saved as .safetensors and exported to .onnx."""
    from mobilegan.config import ModelConfig
    from mobilegan.inference.export import export_onnx
    from mobilegan.models.io import save_model
    from mobilegan.models.registry import build_model

    folder = tmp_path_factory.mktemp("app-model")
    model = build_model(ModelConfig())
    save_model(model, ModelConfig(), folder / "w.safetensors")
    export_onnx(model, folder / "w.onnx", exporter="torchscript")
    return {"torch": folder / "w.safetensors", "onnx": folder / "w.onnx"}


@pytest.fixture(scope="module")
def torch_segmenter(model_files):
    from mobilegan.inference.segmenter import Segmenter

    return Segmenter(model_files["torch"], samples=2, seed=0, threads=1)


@pytest.fixture(scope="module")
def client(torch_segmenter) -> TestClient:
    return TestClient(create_app(torch_segmenter))


@pytest.fixture(scope="module")
def real_image(isic2017) -> Path:
    return isic2017 / "ISIC-2017_Test_v2_Data" / f"{IMAGE_ID}.jpg"


def _part(name: str, data: bytes, mime: str = "image/jpeg") -> tuple:
    return ("files", (name, data, mime))


def _png(payload: dict) -> Image.Image:
    assert payload["mime"] == "image/png"
    return Image.open(io.BytesIO(base64.b64decode(payload["base64"])))


def _bomb_png(width: int, height: int) -> bytes:
    """A tiny PNG whose header claims ``width`` x ``height`` (a decompression bomb's shape)."""
    buffer = io.BytesIO()
    Image.new("L", (8, 8)).save(buffer, "PNG")
    data = bytearray(buffer.getvalue())
    ihdr = data.index(b"IHDR")
    data[ihdr + 4:ihdr + 12] = struct.pack(">II", width, height)
    crc = zlib.crc32(bytes(data[ihdr:ihdr + 17])) & 0xFFFFFFFF
    data[ihdr + 17:ihdr + 21] = struct.pack(">I", crc)
    return bytes(data)


def test_health_names_backend_samples_and_limits(client):
    body = client.get("/api/health").json()
    assert body["status"] == "ok" and body["backend"] == "torch"
    assert body["samples"] == 2 and body["uncertainty"] is True
    assert body["max_upload_mb"] == 20 and body["max_pixels"] == 40_000_000
    assert "not a medical device" in body["notice"]
    assert "TIFF" in body["formats"] and "GIF" in body["formats"]  # the page shows them


def test_answers_about_images_are_never_cached(client):
    """Every API answer carries patient data or its description: no-store on all of them."""
    png = io.BytesIO()
    Image.new("RGB", (32, 24), (180, 120, 90)).save(png, "PNG")
    answer = client.post("/api/segment", files=[_part("a.png", png.getvalue(), "image/png")])
    assert answer.status_code == 200 and answer.headers["cache-control"] == "no-store"
    assert client.get("/api/nothing").headers["cache-control"] == "no-store"


def test_the_review_message_follows_the_flag_not_the_score():
    """A flagged image gets the sentence whatever its score (an empty mask is flagged at
    confidence 1); an unflagged one none."""
    from mobilegan.app.payload import success
    from mobilegan.inference.result import SegmentationResult

    mask = np.zeros((8, 8), bool)
    mask[2:6, 2:6] = True
    for flagged in (True, False):
        result = SegmentationResult("x", mask, mask.astype(np.float32), None, 0.97, flagged,
                                    16, 0.25, (2, 2, 6, 6))
        answer = success("x.png", "x", np.zeros((8, 8, 3), np.uint8), result, "torch", 1, 0.1)
        assert (answer["review_message"] is not None) == flagged
        assert answer["area_percent"] == 25.0
    # The sentence says why: a confident strip or empty mask is not "low confidence".
    said = {}
    for reason in ("low_confidence", "no_lesion", "shape"):
        result = SegmentationResult("x", mask, mask.astype(np.float32), None, 0.97, True,
                                    16, 0.25, (2, 2, 6, 6), review_reason=reason)
        answer = success("x.png", "x", np.zeros((8, 8, 3), np.uint8), result, "torch", 1, 0.1)
        assert answer["review_reason"] == reason
        said[reason] = answer["review_message"]
    assert said["low_confidence"].startswith("Low confidence")
    assert said["no_lesion"].startswith("No lesion found")
    assert said["shape"].startswith("Not shaped like a dermoscopy image")


def test_page_and_its_files_are_served_with_safe_headers(client):
    page = client.get("/")
    assert page.status_code == 200 and "not a medical device" in page.text
    assert "default-src 'self'" in page.headers["content-security-policy"]
    for name in ("app.js", "style.css"):
        assert client.get(f"/static/{name}").status_code == 200
    assert client.get("/api/health").headers["cache-control"] == "no-store"


def test_segments_a_real_image_at_its_own_resolution(client, real_image):
    response = client.post("/api/segment", files=[_part(real_image.name, real_image.read_bytes())])
    assert response.status_code == 200
    (r,) = response.json()["results"]
    assert r["ok"] and r["id"] == IMAGE_ID and (r["width"], r["height"]) == (256, 192)
    mask = _png(r["mask"])
    assert r["mask"]["filename"] == f"{IMAGE_ID}_segmentation.png"
    assert mask.size == (256, 192) and mask.mode == "L"
    levels = np.asarray(mask)
    assert set(np.unique(levels)) <= {0, 255}
    assert r["area_pixels"] == int((levels == 255).sum())
    # to 4 decimals, as segment's CSV (the page once rounded to 2, the CSV to 4)
    assert r["area_percent"] == round(100 * r["area_pixels"] / (256 * 192), 4)
    overlay = _png(r["overlay"])
    assert overlay.size == (256, 192) and overlay.mode == "RGB"
    assert r["overlay"]["filename"] == f"{IMAGE_ID}_overlay.png"
    assert _png(r["uncertainty"]).size == (256, 192) and r["uncertainty_note"] is None
    assert 0.0 <= r["confidence"] <= 1.0
    if r["low_confidence"]:  # the sentence for its reason (an untrained net may find none)
        from mobilegan.app.payload import REVIEW_MESSAGES

        assert r["review_message"] == REVIEW_MESSAGES[r["review_reason"]]
        assert r["review_message"].endswith("please have a clinician review this image.")
    else:
        assert r["review_reason"] is None and r["review_message"] is None
    assert r["row"]["id"] == IMAGE_ID and r["row"]["status"] == "ok"


def test_bad_files_get_a_message_each_and_good_ones_still_work(client, real_image):
    good = real_image.read_bytes()
    files = [_part("notes.txt", b"this is not an image\n", "text/plain"),
             _part("cut.jpg", good[: len(good) // 3]),
             _part("random.jpg", bytes(range(256)) * 8),
             _part("empty.png", b"", "image/png"),
             _part("bomb.png", _bomb_png(10_000, 10_000), "image/png"),
             _part("huge_bomb.png", _bomb_png(100_000, 100_000), "image/png"),
             _part(real_image.name, good)]
    results = client.post("/api/segment", files=files).json()["results"]
    assert [r["ok"] for r in results] == [False] * 6 + [True]
    messages = {r["filename"]: r["error"] for r in results[:-1]}
    assert "not an image" in messages["notes.txt"]
    assert "truncated" in messages["cut.jpg"]
    assert "corrupt" in messages["random.jpg"]
    assert "empty" in messages["empty.png"]
    assert "10000x10000 = 100,000,000 pixels" in messages["bomb.png"]
    assert "40,000,000" in messages["bomb.png"] and "decompression bomb" in messages["bomb.png"]
    assert "10,000,000,000 pixels" in messages["huge_bomb.png"]
    assert all("Traceback" not in m and "PIL" not in m for m in messages.values())


def test_limits_are_configurable_and_explained(torch_segmenter, real_image):
    limits = UploadLimits(max_file_bytes=4_000, max_pixels=256 * 100, max_files=2)
    client = TestClient(create_app(torch_segmenter, limits))
    small = io.BytesIO()
    Image.new("RGB", (64, 48), (180, 120, 100)).save(small, "PNG")
    results = client.post("/api/segment", files=[
        _part(real_image.name, real_image.read_bytes()),  # ~10 kB > 4 kB
        _part("small.png", small.getvalue(), "image/png")]).json()["results"]
    assert not results[0]["ok"] and "--max-upload-mb" in results[0]["error"]
    assert results[1]["ok"]
    too_many = client.post("/api/segment", files=[_part(f"{i}.png", small.getvalue())
                                                 for i in range(3)])
    assert too_many.status_code == 413 and "at most 2" in too_many.json()["error"]
    big = io.BytesIO()
    Image.new("RGB", (200, 150)).save(big, "PNG")
    (r,) = client.post("/api/segment", files=[_part("big.png", big.getvalue())]).json()["results"]
    assert not r["ok"] and "--max-pixels" in r["error"] and "30,000" in r["error"]


def test_an_oversized_request_is_refused_with_413_before_reading_it(torch_segmenter):
    limits = UploadLimits(max_file_bytes=1_000, max_files=1)
    client = TestClient(create_app(torch_segmenter, limits))
    body = b"x" * (limits.max_request_bytes + 1)
    response = client.post("/api/segment", content=body,
                           headers={"content-type": "multipart/form-data; boundary=abc"})
    assert response.status_code == 413 and "MB" in response.json()["error"]


def test_a_declared_oversized_upload_is_refused_without_waiting_for_a_place(torch_segmenter,
                                                                           monkeypatch):
    """With every place taken, an upload whose declared length is over the limit is
    answered 413 at once, its body never read: it must not queue behind the gate."""
    import threading
    import time

    from mobilegan.app import server

    entered, release = threading.Event(), threading.Event()

    class Busy:
        def __getattr__(self, name):
            return getattr(torch_segmenter, name)

        def predict(self, image, id=None):
            entered.set()
            release.wait(10)
            return torch_segmenter.predict(image, id=id)

    bodies_read = []
    read_body = server._read_uploads

    async def counted_read(request, limits):
        bodies_read.append(request.headers.get("content-length"))
        return await read_body(request, limits)

    monkeypatch.setattr(server, "_read_uploads", counted_read)
    limits = UploadLimits(max_file_bytes=1_000, max_files=1, max_requests=1)
    png = io.BytesIO()
    Image.new("RGB", (8, 8), (180, 120, 90)).save(png, "PNG")
    with TestClient(create_app(Busy(), limits)) as client:
        holder = threading.Thread(target=lambda: client.post(
            "/api/segment", files=[_part("a.png", png.getvalue(), "image/png")]))
        holder.start()
        assert entered.wait(10)  # the only place is taken
        started = time.monotonic()
        response = client.post("/api/segment", content=b"x" * (limits.max_request_bytes + 1),
                               headers={"content-type": "multipart/form-data; boundary=abc"})
        waited = time.monotonic() - started
        release.set()
        holder.join()
    assert response.status_code == 413
    assert "this server takes at most 1 images" in response.json()["error"]
    assert waited < 5, waited
    assert len(bodies_read) == 1  # the holder's; the oversized body was never read


def test_requests_without_images_get_400(client):
    assert client.post("/api/segment", json={"a": 1}).status_code == 400
    empty = client.post("/api/segment", data={"note": "hello"}, files=[])
    assert empty.status_code == 400
    form_only = client.post("/api/segment", files={"note": (None, b"hi")})
    assert form_only.status_code == 400 and "no image" in form_only.json()["error"]
    assert client.post("/api/segment?format=xml", files=[_part("a.png", b"")]).status_code == 400


def test_csv_has_one_row_per_file_failures_included(client, real_image):
    response = client.post("/api/segment?format=csv", files=[
        _part(real_image.name, real_image.read_bytes()), _part("bad.jpg", b"nope")])
    assert response.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert [(r["filename"], r["status"]) for r in rows] == [(real_image.name, "ok"),
                                                           ("bad.jpg", "error")]
    assert rows[0]["width"] == "256" and rows[0]["area_percent"] != ""
    assert "not an image" in rows[1]["error"]


def test_csv_keeps_a_formula_like_file_name_as_text(client, real_image):
    """The downloaded CSV opens in spreadsheets: an upload named like a formula must stay
    text there (CSV injection), while the JSON answer keeps the name as sent."""
    name = "=HYPERLINK(1).jpg"
    answer = client.post("/api/segment", files=[_part(name, real_image.read_bytes())])
    assert answer.json()["results"][0]["filename"] == name
    response = client.post("/api/segment?format=csv", files=[
        _part(name, real_image.read_bytes()), _part("@bad.jpg", b"nope")])
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert [(r["filename"], r["status"]) for r in rows] == [("'" + name, "ok"),
                                                           ("'@bad.jpg", "error")]


def test_uploads_never_touch_the_disk(client, monkeypatch):
    """A 2 MB upload (over Starlette's 1 MB spooling threshold) is never written anywhere:
    every way of creating a temporary or a writable file fails the test."""
    import builtins

    import starlette.formparsers

    attempts: list[tuple] = []

    def refuse(*args, **kwargs):
        attempts.append(args[:1])
        raise AssertionError(f"an upload was about to be written to disk: {args[:1]}")

    real_open = builtins.open

    def read_only_open(file, mode="r", *args, **kwargs):
        if any(flag in mode for flag in "wax+"):
            refuse(file)
        return real_open(file, mode, *args, **kwargs)

    for name in ("SpooledTemporaryFile", "TemporaryFile", "NamedTemporaryFile", "mkstemp"):
        monkeypatch.setattr(tempfile, name, refuse)
    monkeypatch.setattr(starlette.formparsers, "SpooledTemporaryFile", refuse)
    monkeypatch.setattr(builtins, "open", read_only_open)
    noise = np.random.default_rng(0).integers(0, 256, (900, 800, 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(noise).save(buffer, "BMP")
    assert buffer.tell() > 2_000_000
    response = client.post("/api/segment", files=[_part("large.bmp", buffer.getvalue(),
                                                        "image/bmp")])
    assert attempts == []
    (r,) = response.json()["results"]
    assert r["ok"] and (r["width"], r["height"]) == (800, 900)


def test_keep_uploads_saves_a_copy_only_when_asked(torch_segmenter, real_image, tmp_path):
    kept = tmp_path / "kept"
    client = TestClient(create_app(torch_segmenter, keep_uploads=kept))
    assert client.get("/api/health").json()["keeps_uploads"] is True
    client.post("/api/segment", files=[_part("../../evil name.jpg", real_image.read_bytes())])
    (saved,) = kept.iterdir()
    assert saved.name.endswith("_evil_name.jpg") and saved.read_bytes() == real_image.read_bytes()


def test_onnx_backend_serves_without_an_uncertainty_map(model_files, real_image):
    from mobilegan.inference.segmenter import Segmenter

    client = TestClient(create_app(Segmenter(model_files["onnx"], backend="onnx", threads=1)))
    health = client.get("/api/health").json()
    assert health["backend"] == "onnx" and health["uncertainty"] is False
    (r,) = client.post("/api/segment", files=[
        _part(real_image.name, real_image.read_bytes())]).json()["results"]
    assert r["ok"] and r["uncertainty"] is None and "ONNX" in r["uncertainty_note"]
    assert _png(r["mask"]).size == (256, 192)


def test_int8_backend_names_itself(real_image):
    from mobilegan.inference.segmenter import Segmenter

    client = TestClient(create_app(Segmenter.from_pretrained(backend="int8", threads=1)))
    assert client.get("/api/health").json()["backend"] == "int8"
    (r,) = client.post("/api/segment", files=[
        _part(real_image.name, real_image.read_bytes())]).json()["results"]
    assert r["ok"] and r["uncertainty"] is None and "INT8 backend" in r["uncertainty_note"]


def test_large_images_get_a_jpeg_overlay_and_a_full_size_mask(client):
    rgb = np.full((1500, 2000, 3), 200, dtype=np.uint8)  # 3 MP: above the PNG overlay limit
    buffer = io.BytesIO()
    Image.fromarray(rgb).save(buffer, "JPEG", quality=90)
    response = client.post("/api/segment", files=[_part("wide.jpg", buffer.getvalue())])
    (r,) = response.json()["results"]
    assert r["overlay"]["mime"] == "image/jpeg" and r["overlay"]["filename"] == "wide_overlay.jpg"
    assert _png(r["mask"]).size == (2000, 1500)
    assert max(_png(r["uncertainty"]).size) == 1024  # a preview of a smooth map


def test_a_boundary_the_parser_refuses_is_a_400_not_a_500(torch_segmenter):
    client = TestClient(create_app(torch_segmenter), raise_server_exceptions=False)
    response = client.post("/api/segment", content=b"x", headers={
        "content-type": "multipart/form-data; boundary=" + "x" * 257})
    assert response.status_code == 400 and "multipart" in response.json()["error"]


def test_head_requests_and_unknown_parameters(client, real_image):
    assert client.head("/").status_code == 200
    assert client.head("/api/health").status_code == 200
    response = client.post("/api/segment?threshold=0.9&samples=3",
                           files=[_part(real_image.name, real_image.read_bytes())])
    assert response.status_code == 400
    assert "samples, threshold" in response.json()["error"]


def test_uploads_of_one_name_at_once_are_all_kept(torch_segmenter, tmp_path):
    """Six uploads named alike within one second: six files (the name check and the write
    were two steps, so two threads could pick one name)."""
    from concurrent.futures import ThreadPoolExecutor

    from mobilegan.app.uploads import Upload, keep_upload

    uploads = [Upload("same.jpg", _buffer=bytearray([i] * 10)) for i in range(6)]
    with ThreadPoolExecutor(6) as pool:
        paths = list(pool.map(lambda u: keep_upload(tmp_path, u), uploads))
    assert len(set(paths)) == 6
    assert sorted(p.read_bytes()[0] for p in paths) == list(range(6))


def test_a_png_with_a_huge_text_chunk_is_refused_for_what_it_is(client):
    from PIL import PngImagePlugin

    info = PngImagePlugin.PngInfo()
    info.add_text("comment", "x" * 20_000_000, zip=True)  # 20 MB unpacked, 20 kB sent
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8)).save(buffer, "PNG", pnginfo=info)
    (r,) = client.post("/api/segment", files=[_part("t.png", buffer.getvalue(), "image/png")]
                       ).json()["results"]
    assert not r["ok"] and "compressed chunk" in r["error"] and "pixels" not in r["error"]


def test_quotes_in_a_file_name_come_back_as_the_user_named_the_file(client, real_image):
    """httpx (as browsers and curl) sends '"' as %22 in the multipart file name."""
    (r,) = client.post("/api/segment", files=[_part('mole "left".jpg', real_image.read_bytes())]
                       ).json()["results"]
    assert r["filename"] == 'mole "left".jpg' and r["id"] == "mole_left"


def test_unknown_paths_and_methods_answer_in_the_apps_error_shape(client: TestClient) -> None:
    for method, path, status in (("get", "/api/segmnet", 404), ("get", "/static/nope.js", 404),
                                 ("get", "/api/segment", 405), ("delete", "/api/health", 405)):
        response = getattr(client, method)(path)
        assert response.status_code == status, (method, path)
        body = response.json()
        assert set(body) == {"error"} and "/api/segment" in body["error"], (method, path)
        assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert "POST" in client.get("/api/segment").headers["allow"]


def test_uploads_sharing_a_name_get_ids_of_their_own(client, real_image):
    """a.jpg, a.png and dir/a.jpg in one request: three downloads, not three 'a_*' files."""
    good = real_image.read_bytes()
    files = [_part("a.jpg", good), _part("a.png", b"not an image", "image/png"),
             _part("dir/a.jpg", good), _part("A.jpg", good)]
    results = client.post("/api/segment", files=files).json()["results"]
    assert [r["id"] for r in results] == ["a", "a_2", "a_3", "A_4"]
    assert [r["ok"] for r in results] == [True, False, True, True]
    assert results[2]["row"]["id"] == "a_3"


def test_requests_beyond_max_requests_wait_unread(torch_segmenter, monkeypatch):
    """Many clients at once: at most ``max_requests`` uploads are read and segmented
    together; the rest wait with their bodies unread (and then succeed), so memory stays
    bounded. A request counts from the moment its body is read until it is segmented."""
    import contextlib
    import threading
    import time

    from mobilegan.app import server

    lock = threading.Lock()
    active, most = 0, 0
    read_body = server._read_uploads

    async def counted_read(request, limits):
        nonlocal active, most
        with lock:
            active += 1
            most = max(most, active)
        return await read_body(request, limits)

    class Slow:
        """The segmenter, slow enough for requests to overlap (one file per request)."""

        def __getattr__(self, name):
            return getattr(torch_segmenter, name)

        def predict(self, image, id=None):
            nonlocal active
            time.sleep(0.3)
            with lock:
                active -= 1
            return torch_segmenter.predict(image, id=id)

    monkeypatch.setattr(server, "_read_uploads", counted_read)
    png = io.BytesIO()
    Image.new("RGB", (32, 24), (180, 120, 90)).save(png, "PNG")
    for limit in (1, 3):
        app = create_app(Slow(), UploadLimits(max_requests=limit))
        app.state.service._lock = contextlib.nullcontext()  # let predictions overlap
        with TestClient(app) as client:
            codes = []

            def post():
                answer = client.post("/api/segment", files=[_part("a.png", png.getvalue(),
                                                                  "image/png")])
                codes.append(answer.status_code)

            threads = [threading.Thread(target=post) for _ in range(3)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
        assert codes == [200, 200, 200]
        # one at a time under the gate; with room for three, more than one overlapped
        assert most == 1 if limit == 1 else 1 < most <= 3, (limit, most)
        most = 0


def test_an_upload_that_stalls_is_dropped(monkeypatch):
    """A client that stops sending mid-body gives its place up (HTTP 408) instead of
    keeping it for ever."""
    import asyncio

    from mobilegan.app import server
    from mobilegan.app.uploads import RequestRejected

    class Stalled:
        headers = {"content-type": "multipart/form-data; boundary=x"}

        async def stream(self):
            yield b"--x\r\n"
            await asyncio.sleep(60)
            yield b""

    monkeypatch.setattr(server, "UPLOAD_IDLE_S", 0.2)
    with pytest.raises(RequestRejected, match="sent nothing for 0.2 s") as caught:
        asyncio.run(server._read_uploads(Stalled(), UploadLimits()))
    assert caught.value.status == 408


def test_an_upload_that_trickles_is_dropped_and_a_steady_one_is_not(monkeypatch):
    """A byte now and then never stalls for UPLOAD_IDLE_S yet kept a place as long as the
    client liked: after the grace time the average rate must hold."""
    import asyncio

    from mobilegan.app import server
    from mobilegan.app.uploads import RequestRejected

    body = (b"--x\r\nContent-Disposition: form-data; name=\"files\"; filename=\"a.jpg\"\r\n\r\n"
            + b"A" * 4000 + b"\r\n--x--\r\n")

    class Sender:
        headers = {"content-type": "multipart/form-data; boundary=x"}

        def __init__(self, chunk_bytes: int) -> None:
            self.chunk_bytes = chunk_bytes

        async def stream(self):  # a chunk every 0.1 s
            for start in range(0, len(body), self.chunk_bytes):
                await asyncio.sleep(0.1)
                yield body[start:start + self.chunk_bytes]

    monkeypatch.setattr(server, "UPLOAD_IDLE_S", 5.0)
    monkeypatch.setattr(server, "UPLOAD_GRACE_S", 0.3)
    monkeypatch.setattr(server, "UPLOAD_MIN_BYTES_PER_S", 1000)
    started = time.monotonic()
    with pytest.raises(RequestRejected, match="too slowly") as caught:  # 10 bytes/s
        asyncio.run(server._read_uploads(Sender(1), UploadLimits()))
    assert caught.value.status == 408 and time.monotonic() - started < 2
    # 4,000 bytes/s, four times the minimum, for about a second (longer than the grace)
    [upload] = asyncio.run(server._read_uploads(Sender(400), UploadLimits()))
    assert upload.size == 4000 and upload.error is None


def test_a_client_that_leaves_mid_upload_is_not_a_server_error():
    """A tab closed during an upload logged a whole ASGI traceback (ClientDisconnect)."""
    import asyncio

    from starlette.requests import ClientDisconnect

    from mobilegan.app import server
    from mobilegan.app.uploads import RequestRejected

    class Gone:
        headers = {"content-type": "multipart/form-data; boundary=x"}

        async def stream(self):
            yield b"--x\r\n"
            raise ClientDisconnect()

    with pytest.raises(RequestRejected, match="client went away") as caught:
        asyncio.run(server._read_uploads(Gone(), UploadLimits()))
    assert caught.value.status == 499


def test_keep_uploads_never_keeps_a_file_that_was_refused(tmp_path: Path) -> None:
    """--keep-uploads keeps the images the server took: a file over the per-file limit
    (its bytes dropped as they came) is answered with its error and not written, as a
    truncated or empty copy, to the folder."""
    import types
    import warnings

    pytest.importorskip("fastapi")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from fastapi.testclient import TestClient

    from mobilegan.app.server import create_app
    from mobilegan.app.uploads import UploadLimits

    def predict(*_args, **_kwargs):
        raise AssertionError("a refused file never reaches the network")

    segmenter = types.SimpleNamespace(backend=types.SimpleNamespace(name="torch"), samples=1,
                                      predict=predict)
    kept = tmp_path / "kept"
    client = TestClient(create_app(segmenter, UploadLimits(max_file_bytes=1000),
                                   keep_uploads=kept))
    answer = client.post("/api/segment", files=[("files", ("big.jpg", b"\xff" * 5000,
                                                           "image/jpeg"))])
    assert answer.status_code == 200
    (result,) = answer.json()["results"]
    assert result["ok"] is False and result["error"]
    assert not kept.exists() or list(kept.iterdir()) == []


def test_a_failed_files_csv_row_keeps_its_id() -> None:
    """The web page's CSV names each file by its id as segment's results.csv does, failures
    included: a refused upload's row is found by id as well as by file name."""
    from mobilegan.app.payload import failure, to_csv

    text = to_csv([failure("bad scan.jpg", "bad_scan", "not an image")])
    rows = list(csv.DictReader(text.splitlines()))
    assert rows == [{"filename": "bad scan.jpg", "status": "error", "error": "not an image",
                     "id": "bad_scan"}]
