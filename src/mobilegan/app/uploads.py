"""Uploads for the web page: read in memory, limited while they stream in, decoded safely.

Starlette's own form parser spools any file over 1 MB to a temporary file on disk; a
dermoscopy image is patient data, so this module parses ``multipart/form-data`` itself
and keeps every byte in memory (nothing touches the disk unless ``--keep-uploads`` asks).
Limits are checked as bytes arrive, so an oversized upload is never held whole.
Every failure becomes a sentence a clinician can act on, never a stack trace.
"""

from __future__ import annotations

import io
import math
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from mobilegan.data.layouts import IMAGE_FORMATS
from mobilegan.inference.batch import safe_id

if TYPE_CHECKING:
    from mobilegan.data.io import ImageReadError

#: Defaults of ``mobilegan serve``: ISIC originals are at most ~30 M pixels and ~15 MB; a
#: request holds at most ``max_files x max_upload_mb`` (400 MB) in memory. The page sends
#: one image per request, so ``max_files`` only limits scripts using the API.
DEFAULT_MAX_UPLOAD_MB = 20.0
#: Lower than ``mobilegan segment``'s 50 M (data.io.DEFAULT_MAX_PIXELS): a server decodes
#: what strangers send.
SERVE_MAX_PIXELS = 40_000_000
DEFAULT_MAX_FILES = 20
#: Requests read and segmented at once; later ones wait, their bodies unread, so that many
#: clients at once hold at most ``max_requests x max_files x max_upload_mb`` in memory.
#: Segmenting is one at a time anyway; two lets one upload arrive while another runs.
DEFAULT_MAX_REQUESTS = 2
#: Room for multipart headers and boundaries on top of the file bytes.
_OVERHEAD_PER_FILE = 64 * 1024
#: Form fields that are not files are ignored, but cannot be large either.
_MAX_FIELD_BYTES = 64 * 1024


@dataclass(frozen=True)
class UploadLimits:
    """What one request may carry; over a per-file limit that file gets an error message,
    over a per-request limit the whole request is refused with HTTP 413."""

    max_file_bytes: int = int(DEFAULT_MAX_UPLOAD_MB * 1024 * 1024)
    max_pixels: int = SERVE_MAX_PIXELS
    max_files: int = DEFAULT_MAX_FILES
    max_requests: int = DEFAULT_MAX_REQUESTS

    def __post_init__(self) -> None:
        for name in ("max_file_bytes", "max_pixels", "max_files", "max_requests"):
            if getattr(self, name) <= 0:  # max_requests 0 would leave every upload waiting
                raise ValueError(f"{name} must be positive, got {getattr(self, name)}")

    @classmethod
    def from_megabytes(cls, max_upload_mb: float, max_pixels: int,
                       max_files: int = DEFAULT_MAX_FILES,
                       max_requests: int = DEFAULT_MAX_REQUESTS) -> "UploadLimits":
        for option, value in (("--max-upload-mb", max_upload_mb), ("--max-pixels", max_pixels),
                              ("--max-files", max_files), ("--max-requests", max_requests)):
            if not (math.isfinite(value) and value > 0):  # inf once reached int() and crashed
                raise ValueError(f"{option} must be a positive number, got {value:g}")
        # The limit is the one the messages show (4 significant digits), so that the page's
        # own check and the server's agree to the byte.
        shown = float(f"{max_upload_mb:.4g}")
        if shown * 1024 * 1024 < 1:
            raise ValueError(f"--max-upload-mb must allow at least one byte, got {max_upload_mb:g}")
        return cls(round(shown * 1024 * 1024), int(max_pixels), int(max_files),
                   int(max_requests))

    @property
    def max_request_bytes(self) -> int:
        return self.max_files * (self.max_file_bytes + _OVERHEAD_PER_FILE)

    @property
    def max_upload_mb(self) -> float:
        """The limit in MB as a person wrote it: 0.05 MB is 52,428 bytes, which read back
        exactly is 0.0499992, a number nobody typed (4 significant digits)."""
        return float(f"{self.max_file_bytes / (1024 * 1024):.4g}")


#: RFC 5987's extended file name, which python-multipart's option parser drops.
_EXTENDED_FILENAME = re.compile(rb'filename\*\s*=\s*"?([^;"\s]+)', re.IGNORECASE)


def _part_filename(options: dict[bytes, bytes | str], disposition: bytes) -> str | None:
    """A part's file name: ``filename``, else RFC 5987's ``filename*=UTF-8''%E6%82%A3.jpg``
    (which some clients send alone, and which was ignored: "no image in the upload")."""
    plain = options.get(b"filename")
    if plain is not None:
        return plain.decode("utf-8", "replace") if isinstance(plain, bytes) else plain
    match = _EXTENDED_FILENAME.search(disposition)
    if match is None:
        return None
    from urllib.parse import unquote

    text = match.group(1).decode("latin-1")
    charset, _, rest = text.partition("'")
    encoded = rest.partition("'")[2] if rest else text
    try:
        return unquote(encoded, encoding=charset or "utf-8", errors="replace")
    except LookupError:  # a charset Python does not know
        return unquote(encoded, errors="replace")


class RequestRejected(Exception):
    """The request as a whole cannot be served; ``status`` is the HTTP code to answer."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass
class Upload:
    """One uploaded file, held in memory. ``error`` is set when it was refused while
    streaming (then ``data`` is empty)."""

    filename: str
    content_type: str = ""
    size: int = 0
    error: str | None = None
    #: Whether the part's closing boundary arrived: a body cut off mid-file leaves its last
    #: part without one, and the bytes held are then only the first part of the file.
    complete: bool = False
    _buffer: bytearray = field(default_factory=bytearray, repr=False)

    @property
    def data(self) -> bytes:
        return bytes(self._buffer)

    @property
    def id(self) -> str:
        return upload_id(self.filename)


def upload_id(filename: str) -> str:
    """The image id used to name downloads (``<id>_segmentation.png``): the file's stem,
    without any client path and with only filename-safe characters."""
    name = re.split(r"[\\/]", filename or "")[-1]
    stem = name.rsplit(".", 1)[0] if "." in name.lstrip(".") else name
    # The rule of `mobilegan segment`'s ids (letters of any script kept, no leading '-'),
    # its length limit too: an image keeps one id whichever way it was segmented.
    return safe_id(stem)


def megabytes(size: int) -> str:
    return f"{size / (1024 * 1024):.1f} MB"


class MultipartReader:
    """Feed a ``multipart/form-data`` body chunk by chunk; collects file parts in memory.

    Raises :class:`RequestRejected` (413) when the body or the number of files exceeds
    the limits, (400) when it is not valid multipart. A single file over the size limit
    is kept as an :class:`Upload` with an ``error``; its bytes are dropped as they come.
    """

    def __init__(self, content_type: str, limits: UploadLimits) -> None:
        from python_multipart.multipart import MultipartParser, parse_options_header

        kind, params = parse_options_header(content_type or "")
        if kind != b"multipart/form-data" or b"boundary" not in params:
            raise RequestRejected(400, "send the images as multipart/form-data "
                                       "(one or more parts named 'files')")
        self.limits = limits
        self.uploads: list[Upload] = []
        self._received = 0
        self._part: Upload | None = None
        self._field_bytes = 0
        self._header_name = b""
        self._header_value = b""
        self._disposition = b""
        self._part_type = b""
        self._ended = False  # the closing boundary arrived
        self._parse_options = parse_options_header
        callbacks = {
            "on_part_begin": self._on_part_begin,
            "on_part_data": self._on_part_data,
            "on_header_field": self._on_header_field,
            "on_header_value": self._on_header_value,
            "on_header_end": self._on_header_end,
            "on_headers_finished": self._on_headers_finished,
            "on_part_end": self._on_part_end,
            "on_end": self._on_end,
        }
        try:  # python-multipart refuses some boundaries (over 256 characters) right here
            self._parser = MultipartParser(params[b"boundary"], callbacks)
        except Exception as error:  # noqa: BLE001 - the client's body, never a server error
            raise RequestRejected(400, f"not a valid multipart/form-data request ({error})") from None

    def feed(self, chunk: bytes) -> None:
        self._received += len(chunk)
        if self._received > self.limits.max_request_bytes:
            raise RequestRejected(
                413, f"the upload is over {megabytes(self.limits.max_request_bytes)} in total; "
                     f"send at most {self.limits.max_files} images of up to "
                     f"{self.limits.max_upload_mb:g} MB each")
        try:
            self._parser.write(chunk)
        except RequestRejected:
            raise
        except Exception as error:  # noqa: BLE001 - python-multipart raises several kinds
            raise RequestRejected(400, "the upload is not valid multipart/form-data") from error

    def finish(self) -> list[Upload]:
        """The uploads, once the body has ended. python-multipart's ``finalize`` does not
        check that the closing boundary came: a body cut off mid-file (a client stopped, a
        proxy's limit) would pass its first bytes on as the whole image. A part without its
        boundary gets an error instead; a body that ended before any whole part is a 400."""
        try:
            self._parser.finalize()
        except Exception as error:  # noqa: BLE001
            raise RequestRejected(400, "the upload is incomplete multipart/form-data") from error
        if not self._ended:
            if not any(upload.complete for upload in self.uploads):
                raise RequestRejected(400, "the upload is incomplete: the request ended before "
                                           "its closing multipart boundary; send it again")
            for upload in self.uploads:
                if not upload.complete and upload.error is None:
                    upload.error = (f"{upload.filename} was cut off: the upload ended before "
                                    f"this file did; send it again")
                    upload._buffer = bytearray()
        return self.uploads

    # -- python-multipart callbacks ----------------------------------------------------------

    def _on_part_begin(self) -> None:
        self._part = None
        self._field_bytes = 0
        self._disposition = b""
        self._part_type = b""

    def _on_header_field(self, data: bytes, start: int, end: int) -> None:
        self._header_name += data[start:end]

    def _on_header_value(self, data: bytes, start: int, end: int) -> None:
        self._header_value += data[start:end]

    def _on_header_end(self) -> None:
        name = self._header_name.lower()
        if name == b"content-disposition":
            self._disposition = self._header_value
        elif name == b"content-type":
            self._part_type = self._header_value
        self._header_name = self._header_value = b""

    def _on_headers_finished(self) -> None:
        _, options = self._parse_options(self._disposition)
        filename = _part_filename(options, self._disposition)
        if filename is None:
            if options.get(b"name") != b"files":
                return  # a plain form field: ignored
            filename = ""  # `curl -F "files=<x.jpg"`: the file's bytes, sent without a name
        if len(self.uploads) >= self.limits.max_files:
            raise RequestRejected(413, f"too many images in one upload: at most "
                                       f"{self.limits.max_files} at a time")
        # Browsers (WHATWG), curl and httpx percent-encode exactly these three in a
        # multipart file name; anything else is as the user named the file.
        for code, char in (("%22", '"'), ("%0D", "\r"), ("%0A", "\n")):
            filename = filename.replace(code, char).replace(code.lower(), char)
        self._part = Upload(filename=filename or "unnamed",
                            content_type=self._part_type.decode("latin-1", "replace"))
        self.uploads.append(self._part)

    def _on_part_end(self) -> None:
        if self._part is not None:
            self._part.complete = True

    def _on_end(self) -> None:
        self._ended = True

    def _on_part_data(self, data: bytes, start: int, end: int) -> None:
        part = self._part
        if part is None:
            self._field_bytes += end - start
            if self._field_bytes > _MAX_FIELD_BYTES:
                raise RequestRejected(413, "a form field is too large (send images as file "
                                           "parts named 'files': curl -F files=@image.jpg)")
            return
        part.size += end - start
        if part.error is not None:
            return
        if part.size > self.limits.max_file_bytes:
            part.error = too_big_message(part.filename, self.limits)
            part._buffer = bytearray()  # free what was held; the rest is counted only
            return
        part._buffer += data[start:end]


def too_big_message(filename: str, limits: UploadLimits) -> str:
    return (f"{filename} is larger than this server's limit of {limits.max_upload_mb:g} MB "
            f"per image (start `mobilegan serve` with a larger --max-upload-mb to allow it)")


def decode_upload(upload: Upload, limits: UploadLimits) -> np.ndarray:
    """The upload as RGB uint8 (H, W, 3); ValueError with a plain-words message if it
    is refused, empty, not an image, damaged or over the pixel limit."""
    from mobilegan.data.io import ImageReadError, read_image

    if upload.error:
        raise ValueError(upload.error)
    if upload.size == 0:
        raise ValueError(f"{upload.filename} is empty (0 bytes)")
    try:
        return read_image(io.BytesIO(upload.data), max_pixels=limits.max_pixels)
    except ImageReadError as error:
        raise ValueError(read_error_message(upload.filename, error, limits)) from None


def read_error_message(filename: str, error: ImageReadError, limits: UploadLimits) -> str:
    """One sentence per failure kind of :func:`mobilegan.data.io.read_image`."""
    if error.kind == "too_large" and "decompressed" in error.reason.lower():
        return (f"{filename} holds a compressed chunk (text or metadata) too large to unpack "
                f"safely: a possible decompression bomb, refused")
    if error.kind == "too_large":
        size = re.search(r"(\d+)x(\d+)", error.reason)
        # "N pixels is over the limit" (past Pillow's own check), or Pillow's "(N pixels)"
        count = re.search(r"(\d[\d,]*) pixels is over|\((\d+) pixels\)", error.reason)
        what = (f"is {size[1]}x{size[2]} = {int(size[1]) * int(size[2]):,} pixels" if size
                else f"is {int((count[1] or count[2]).replace(',', '')):,} pixels" if count
                else "has too many pixels")
        return (f"{filename} {what}, over this server's limit of {limits.max_pixels:,} "
                f"(a possible decompression bomb; if the image is genuine, start "
                f"`mobilegan serve` with a larger --max-pixels)")
    if error.kind == "truncated":
        return f"{filename} is incomplete (truncated): the file is damaged or was cut off"
    if error.kind == "unsupported_mode":
        return f"{filename} uses an image mode that cannot be converted to colour: {error.reason}"
    return (f"{filename} is not an image this tool can read ({IMAGE_FORMATS}), "
            f"or the file is corrupt")


def keep_upload(directory: Path, upload: Upload) -> Path:
    """Write one upload to ``directory`` (only with ``--keep-uploads``); returns its path."""
    directory.mkdir(parents=True, exist_ok=True)
    suffix = Path(re.split(r"[\\/]", upload.filename)[-1]).suffix.lower()
    suffix = suffix if re.fullmatch(r"\.[a-z0-9]{1,5}", suffix) else ".bin"
    stamp = time.strftime("%Y%m%d-%H%M%S")
    path = directory / f"{stamp}_{upload.id}{suffix}"
    counter = 1
    while True:  # created exclusively: two uploads of one name in one second never collide
        try:
            with path.open("xb") as handle:
                handle.write(upload.data)
            return path
        except FileExistsError:
            path = directory / f"{stamp}_{upload.id}_{counter}{suffix}"
            counter += 1
