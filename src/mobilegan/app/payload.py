"""Turn one segmentation into what the page shows: numbers, plain-words notes, and images
as base64 so the browser needs no second request and nothing is stored on the server.

The mask always travels at the image's own resolution (it is the ISIC submission file).
The overlay does too, as PNG up to a few megapixels and as JPEG above, where PNG
encoding would take seconds; the uncertainty map is a smooth upsampled field, so a
preview of at most :data:`PREVIEW_SIDE` pixels shows all it holds.
"""

from __future__ import annotations

import base64
import csv
import dataclasses
import io
from typing import Any

import numpy as np
from PIL import Image

from mobilegan.inference.batch import with_text_cells
from mobilegan.inference.result import SegmentationResult, shown_confidence

LOW_CONFIDENCE_MESSAGE = "Low confidence — please have a clinician review this image."
#: The card's sentence for each :data:`~mobilegan.inference.result.REVIEW_REASONS` key (a
#: confident empty mask or strip is not called low confidence).
REVIEW_MESSAGES = {
    "low_confidence": LOW_CONFIDENCE_MESSAGE,
    "no_lesion": "No lesion found — please have a clinician review this image.",
    "shape": "Not shaped like a dermoscopy image (3:1 or longer), so the result is "
             "unreliable — please have a clinician review this image.",
    "multiple_lesions": "A second region nearly as large as the lesion was left out of the "
                        "mask — please have a clinician review this image.",
}
RESEARCH_NOTICE = ("Research tool, not a medical device: results must not be used for "
                   "diagnosis or treatment decisions.")
#: Overlays above this many pixels are sent as JPEG (PNG would take seconds to encode).
PNG_OVERLAY_MAX_PIXELS = 2_500_000
PREVIEW_SIDE = 1024
BASE_CSV_COLUMNS = ["filename", "status", "error"]


def encoded(image: Image.Image, filename: str, fmt: str = "PNG") -> dict[str, str]:
    """A picture as ``{"mime", "base64", "filename"}`` for a data or blob URL."""
    buffer = io.BytesIO()
    if fmt == "JPEG":
        image.save(buffer, "JPEG", quality=92)
    else:
        image.save(buffer, "PNG", compress_level=1 if image.mode == "RGB" else 6)
    return {"mime": f"image/{fmt.lower()}",
            "base64": base64.b64encode(buffer.getvalue()).decode("ascii"),
            "filename": filename}


def uncertainty_note(backend: str, samples: int) -> str | None:
    """Why there is no uncertainty map, in words (None when there is one)."""
    if samples > 1:
        return None
    if backend in ("onnx", "int8"):
        return (f"Not available with the {backend.upper()} backend: the exported network "
                "has no noise to sample. Start the server with --backend torch for an "
                "uncertainty map.")
    return ("Not available: the server runs one deterministic pass (--samples 1). Start it "
            "with --samples 8 for an uncertainty map.")


def _preview_uncertainty(result: SegmentationResult) -> Image.Image | None:
    if result.uncertainty is None:
        return None
    variance = result.uncertainty
    scale = PREVIEW_SIDE / max(variance.shape)
    if scale < 1:
        size = (max(1, round(variance.shape[1] * scale)), max(1, round(variance.shape[0] * scale)))
        small = Image.fromarray(variance.astype(np.float32), mode="F")
        variance = np.asarray(small.resize(size, Image.Resampling.BILINEAR), dtype=np.float32)
    return dataclasses.replace(result, uncertainty=variance).uncertainty_image()


def success(filename: str, image_id: str, rgb: np.ndarray, result: SegmentationResult,
            backend: str, samples: int, seconds: float) -> dict[str, Any]:
    """The JSON the page receives for a segmented image."""
    large = rgb.shape[0] * rgb.shape[1] > PNG_OVERLAY_MAX_PIXELS
    overlay = (encoded(result.overlay(rgb), f"{image_id}_overlay.jpg", "JPEG") if large
               else encoded(result.overlay(rgb), f"{image_id}_overlay.png"))
    uncertainty = _preview_uncertainty(result)
    row = result.to_row()
    return {
        "ok": True,
        "filename": filename,
        "id": image_id,
        "width": result.width,
        "height": result.height,
        "area_pixels": int(result.area_pixels),
        "area_percent": round(100.0 * float(result.area_fraction), 4),  # as segment's CSV
        "bbox": list(result.bbox) if result.bbox is not None else None,
        "confidence": shown_confidence(result.confidence),  # as segment's CSV
        "low_confidence": bool(result.low_confidence),
        "review_reason": result.review_reason if result.low_confidence else None,
        "review_message": (REVIEW_MESSAGES.get(result.review_reason or "", LOW_CONFIDENCE_MESSAGE)
                           if result.low_confidence else None),
        "overlay": overlay,
        "mask": encoded(result.mask_image(), f"{image_id}_segmentation.png"),
        "uncertainty": (encoded(uncertainty, f"{image_id}_uncertainty.png")
                        if uncertainty is not None else None),
        "uncertainty_note": uncertainty_note(backend, samples),
        "row": {"filename": filename, "status": "ok", "error": "", **row},
        "seconds": round(seconds, 3),
    }


def failure(filename: str, image_id: str, message: str) -> dict[str, Any]:
    """The JSON for a file that could not be segmented: a message, never a traceback."""
    return {"ok": False, "filename": filename, "id": image_id, "error": message,
            "row": {"filename": filename, "status": "error", "error": message, "id": image_id}}


def to_csv(payloads: list[dict[str, Any]]) -> str:
    """One row per file, failures included, columns as ``SegmentationResult.to_row``."""
    columns = list(BASE_CSV_COLUMNS)
    for payload in payloads:
        columns += [key for key in payload["row"] if key not in columns]
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, restval="", lineterminator="\n")
    writer.writeheader()
    for payload in payloads:
        writer.writerow(with_text_cells(payload["row"], ("filename", "error")))
    return buffer.getvalue()
