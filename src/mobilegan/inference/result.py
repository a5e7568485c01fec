"""What one segmented image gives back: maps at the image's own resolution, the numbers a
report or web page shows, and the pictures to look at. Field names are a contract
(the web app reads them): add fields, never rename."""

from __future__ import annotations

import math

from dataclasses import dataclass
from typing import Any

import numpy as np
from PIL import Image
from scipy import ndimage

#: Overlay contour colour (RGB): a green that stands out on skin and brown lesions.
CONTOUR_COLOUR = (0, 255, 64)


#: Written into each uncertainty PNG (its "Description" text), so the file explains itself.
UNCERTAINTY_DESCRIPTION = (
    "mobilegan uncertainty: per-pixel standard deviation of the lesion probability over the "
    "noise samples (with --tta, of the flip-averaged probability); magma colour map, black = "
    "0 (the samples agree) to pale yellow = 0.5 (the largest possible)")


#: Why an image is flagged for a human look (``SegmentationResult.review_reason``).
REVIEW_REASONS = {
    "low_confidence": "the network hesitates over the border: confidence below the threshold",
    "no_lesion": "no lesion was found",
    "shape": "the image is at least three times as long as it is wide, unlike a dermoscopy "
             "image (the network sees it squeezed to a square)",
    "multiple_lesions": "a second region at least half the lesion's size was found and left "
                        "out (post-processing keeps the largest region only)",
}


def shown_confidence(confidence: float) -> float:
    """A confidence as tables and the web page show it: cut, not rounded, to 4 decimals. A
    flagged 0.96296 rounded to 0.963 read as at the threshold (0.963), and a filter
    ``confidence < 0.963`` on the table missed it; cut, a value keeps its side of any
    4-decimal threshold."""
    return math.floor(round(float(confidence) * 1e4, 6)) / 1e4


@dataclass
class SegmentationResult:
    """One image's segmentation, every map at the ORIGINAL image resolution (H, W).

    ``uncertainty`` is the per-pixel variance of the lesion probability over the noise
    samples (None when ``samples <= 1``). ``confidence`` is defined in
    :func:`mobilegan.inference.postprocess.confidence`; ``low_confidence`` marks images
    below the segmenter's threshold (or find no lesion, or are 3:1 or longer), which deserve
    a human look. ``bbox`` is (x0, y0, x1, y1) with x1, y1 exclusive, None when no lesion
    was found. ``probability`` and ``uncertainty`` are float32 at full size: about 100 MB
    each for a 27-megapixel original, so over many large images keep what you need (the
    mask, :meth:`to_row`) rather than every result.
    """

    id: str | None
    mask: np.ndarray
    probability: np.ndarray
    uncertainty: np.ndarray | None
    confidence: float
    low_confidence: bool
    area_pixels: int
    area_fraction: float
    bbox: tuple[int, int, int, int] | None
    #: Why ``low_confidence`` is set, a key of :data:`REVIEW_REASONS` (None when it is not):
    #: an empty mask or a strip is flagged at any confidence.
    review_reason: str | None = None

    def __repr__(self) -> str:
        """The numbers, with the maps by shape only (printing a result in a notebook
        dumped every pixel)."""
        uncertainty = None if self.uncertainty is None else self.uncertainty.shape
        return (f"SegmentationResult(id={self.id!r}, size={self.width}x{self.height}, "
                f"area_pixels={self.area_pixels}, area_fraction={self.area_fraction:.4f}, "
                f"bbox={self.bbox}, confidence={self.confidence:.3f}, "
                f"low_confidence={self.low_confidence}, review_reason={self.review_reason!r}, "
                f"uncertainty={uncertainty})")

    @property
    def height(self) -> int:
        return int(self.mask.shape[0])

    @property
    def width(self) -> int:
        return int(self.mask.shape[1])

    def mask_image(self) -> Image.Image:
        """The mask as a single-channel 0/255 image (the ISIC submission format)."""
        return Image.fromarray(self.mask.astype(np.uint8) * 255)

    def overlay(self, image: Any, colour: tuple[int, int, int] = CONTOUR_COLOUR) -> Image.Image:
        """The lesion contour drawn over ``image`` (path, PIL or array of this size), RGB.
        A file as large as the mask is read whatever the default pixel limit (the image was
        segmented under its Segmenter's ``max_pixels``, which may be higher)."""
        from mobilegan.data.io import DEFAULT_MAX_PIXELS
        from mobilegan.inference.preprocess import to_rgb

        rgb = to_rgb(image, max(DEFAULT_MAX_PIXELS, self.mask.size)).copy()
        if rgb.shape[:2] != self.mask.shape:
            raise ValueError(f"image is {rgb.shape[1]}x{rgb.shape[0]} but the mask is "
                             f"{self.width}x{self.height}: overlay the image that was segmented")
        rgb[contour(self.mask)] = colour
        return Image.fromarray(rgb)

    def uncertainty_image(self) -> Image.Image | None:
        """The uncertainty as an RGB colour map (magma; bright = samples disagree).

        Colours show the standard deviation of the lesion probability over the noise samples
        (with TTA: of the flip-averaged probability, which runs lower) on a fixed scale,
        black 0 to pale yellow 0.5 (the largest a probability can have), so that images
        run the same way can be compared. :data:`UNCERTAINTY_DESCRIPTION` says so in the
        PNG that ``mobilegan segment`` writes.
        """
        if self.uncertainty is None:
            return None
        from matplotlib import colormaps

        level = np.clip(np.sqrt(np.maximum(self.uncertainty, 0)) / 0.5, 0, 1)
        rgba = colormaps["magma"](level, bytes=True)
        return Image.fromarray(np.ascontiguousarray(rgba[..., :3]))

    def to_row(self) -> dict[str, Any]:
        """Flat, CSV-ready summary (column names are part of the contract)."""
        x0, y0, x1, y1 = self.bbox if self.bbox is not None else ("",) * 4
        return {
            "id": self.id or "",
            "width": self.width,
            "height": self.height,
            "area_pixels": self.area_pixels,
            "area_percent": round(100.0 * self.area_fraction, 4),
            "bbox_x0": x0, "bbox_y0": y0, "bbox_x1": x1, "bbox_y1": y1,
            "confidence": shown_confidence(self.confidence),
            "low_confidence": self.low_confidence,
            # Empty unless flagged: a key of REVIEW_REASONS, so a spreadsheet can sort the
            # flagged images by why (an empty mask, a strip, or a hesitant border).
            "review_reason": (self.review_reason or "") if self.low_confidence else "",
        }


def contour(mask: np.ndarray) -> np.ndarray:
    """The mask's inner boundary, about 1/250 of the image's short side thick."""
    mask = np.asarray(mask, dtype=bool)
    thickness = max(1, round(min(mask.shape) / 250))
    eroded = ndimage.binary_erosion(mask, iterations=thickness, border_value=0)
    return mask & ~eroded
