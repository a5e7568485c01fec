"""The result contract the web page reads: names, pictures, CSV row."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from mobilegan.inference.result import (CONTOUR_COLOUR, REVIEW_REASONS, SegmentationResult,
                                       contour)


def _result(uncertainty: bool = False) -> SegmentationResult:
    mask = np.zeros((30, 40), dtype=bool)
    mask[5:20, 10:30] = True
    return SegmentationResult(
        id="ISIC_0000001", mask=mask, probability=mask.astype(np.float32),
        uncertainty=np.full(mask.shape, 0.01, np.float32) if uncertainty else None,
        confidence=0.93, low_confidence=False, area_pixels=int(mask.sum()),
        area_fraction=float(mask.mean()), bbox=(10, 5, 30, 20))


def test_field_names_are_the_contract() -> None:
    names = [f.name for f in dataclasses.fields(SegmentationResult)]
    # Fields are only ever added, at the end: positional construction keeps working.
    assert names == ["id", "mask", "probability", "uncertainty", "confidence", "low_confidence",
                     "area_pixels", "area_fraction", "bbox", "review_reason"]


def test_mask_image_is_single_channel_0_255() -> None:
    image = _result().mask_image()
    assert image.mode == "L" and image.size == (40, 30)
    assert set(np.unique(np.asarray(image))) == {0, 255}


def test_overlay_draws_the_contour_only() -> None:
    result = _result()
    background = np.full((30, 40, 3), 200, np.uint8)
    overlay = np.asarray(result.overlay(background))
    assert overlay.shape == (30, 40, 3)
    edge = contour(result.mask)
    assert (overlay[edge] == CONTOUR_COLOUR).all()
    assert (overlay[~edge] == 200).all() and edge.sum() < result.mask.sum()
    with pytest.raises(ValueError, match="segmented"):
        result.overlay(np.zeros((10, 10, 3), np.uint8))


def test_uncertainty_image_only_when_sampled() -> None:
    assert _result().uncertainty_image() is None
    heat = _result(uncertainty=True).uncertainty_image()
    assert heat is not None and heat.mode == "RGB" and heat.size == (40, 30)


def test_row_for_csv() -> None:
    row = _result().to_row()
    assert row["id"] == "ISIC_0000001" and (row["width"], row["height"]) == (40, 30)
    assert row["area_pixels"] == 300 and row["area_percent"] == 25.0
    assert (row["bbox_x0"], row["bbox_y0"], row["bbox_x1"], row["bbox_y1"]) == (10, 5, 30, 20)
    assert row["confidence"] == 0.93 and row["low_confidence"] is False
    assert row["review_reason"] == ""


def test_a_flagged_confidence_is_never_shown_at_or_above_the_threshold() -> None:
    """0.96296 (flagged under 0.963) was written 0.963: a filter on the table missed it."""
    from mobilegan.inference.result import shown_confidence

    assert dataclasses.replace(_result(), confidence=0.962963).to_row()["confidence"] == 0.9629
    assert [shown_confidence(c) for c in (0.29, 0.963, 0.93, 1.0, 0.0)] == [
        0.29, 0.963, 0.93, 1.0, 0.0]  # values of 4 decimals stay as they are


def test_row_says_why_an_image_is_flagged() -> None:
    """The CSV names the reason, so a reader can sort the flagged images by it; a reason
    left on an image that is not flagged is not written."""
    for reason in REVIEW_REASONS:
        flagged = dataclasses.replace(_result(), low_confidence=True, review_reason=reason)
        assert flagged.to_row()["review_reason"] == reason
    stale = dataclasses.replace(_result(), low_confidence=False, review_reason="no_lesion")
    assert stale.to_row()["review_reason"] == ""


def test_every_reason_has_its_sentence_on_the_web_page() -> None:
    from mobilegan.app.payload import REVIEW_MESSAGES

    assert set(REVIEW_MESSAGES) == set(REVIEW_REASONS)


def test_printing_a_result_shows_numbers_not_pixels() -> None:
    text = repr(_result(uncertainty=True))
    assert text.startswith("SegmentationResult(id='ISIC_0000001', size=40x30, area_pixels=300")
    assert "bbox=(10, 5, 30, 20)" in text and "uncertainty=(30, 40)" in text
    assert "review_reason=None" in text
    assert len(text) < 280 and "array" not in text


def test_contour_thickness_follows_the_short_side() -> None:
    """About 1/250 of the image's SHORT side: on a 500x1000 photo 2 pixels, not 4."""
    mask = np.zeros((500, 1000), dtype=bool)
    mask[100:400, 200:800] = True
    edge = contour(mask)
    row = edge[250]  # a row through the lesion: left and right borders
    assert row[200:202].all() and not row[202]
    assert row[798:800].all() and not row[797]


def test_contour_closes_along_the_image_edge() -> None:
    """A lesion cut by the photo's border is outlined there too (pixels outside the image
    count as background), so the drawn outline is a closed curve."""
    mask = np.zeros((40, 40), dtype=bool)
    mask[:20, 10:30] = True  # touches the top edge
    edge = contour(mask)
    assert edge[0, 10:30].all()


def test_uncertainty_colours_show_the_standard_deviation() -> None:
    """``uncertainty`` holds the variance; the picture maps its square root (std) on a
    fixed 0..0.5 scale: variance 0.25 (std 0.5) is the top colour, variance 0.01
    (std 0.1) is a fifth of the way up."""
    from matplotlib import colormaps

    mask = np.zeros((4, 4), dtype=bool)
    uncertainty = np.zeros((4, 4), np.float32)
    uncertainty[0, 0], uncertainty[0, 1] = 0.25, 0.01
    result = SegmentationResult(id=None, mask=mask, probability=mask.astype(np.float32),
                                uncertainty=uncertainty, confidence=1.0, low_confidence=False,
                                area_pixels=0, area_fraction=0.0, bbox=None)
    picture = np.asarray(result.uncertainty_image())
    magma = colormaps["magma"]
    assert (picture[0, 0] == magma(1.0, bytes=True)[:3]).all()
    assert (picture[0, 1] == magma(0.2, bytes=True)[:3]).all()
    assert (picture[1, 1] == magma(0.0, bytes=True)[:3]).all()
