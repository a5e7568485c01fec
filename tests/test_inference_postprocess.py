"""Post-processing and summary numbers on masks drawn by hand."""

from __future__ import annotations

import numpy as np
import pytest

from mobilegan.inference import postprocess


def _ring_with_speck() -> np.ndarray:
    mask = np.zeros((40, 50), dtype=bool)
    mask[5:25, 5:30] = True  # the lesion...
    mask[10:15, 12:18] = False  # ...with a hole
    mask[30:33, 40:44] = True  # and a stray speck
    return mask


def test_clean_mask_keeps_largest_component_and_fills_holes() -> None:
    cleaned = postprocess.clean_mask(_ring_with_speck())
    expected = np.zeros((40, 50), dtype=bool)
    expected[5:25, 5:30] = True
    assert np.array_equal(cleaned, expected)


def test_diagonal_neighbours_are_one_component() -> None:
    mask = np.eye(6, dtype=bool)
    assert np.array_equal(postprocess.largest_component(mask), mask)


def test_empty_mask_stays_empty() -> None:
    empty = np.zeros((8, 9), dtype=bool)
    assert not postprocess.clean_mask(empty).any()
    assert postprocess.bbox(empty) is None


def test_bbox_is_exclusive_on_the_far_side() -> None:
    mask = np.zeros((10, 12), dtype=bool)
    mask[2:5, 3:9] = True
    assert postprocess.bbox(mask) == (3, 2, 9, 5)


def test_resize_map_is_bilinear_and_keeps_range() -> None:
    from mobilegan.metrics.isic import resize_probability

    small = np.array([[0.0, 1.0], [1.0, 0.0]], dtype=np.float32)
    big = resize_probability(small, (217, 301))
    assert big.shape == (217, 301) and big.dtype == np.float32
    assert 0.0 <= big.min() and big.max() <= 1.0 and 0.0 < big[108, 150] < 1.0


def test_confidence_is_the_share_of_the_lesion_that_survives_the_threshold_band() -> None:
    lesion = np.zeros((30, 30), dtype=np.float32)
    lesion[10:20, 10:20] = 1.0
    assert postprocess.confidence(lesion) == 1.0  # a decided border: same mask at 0.1 and 0.9
    assert postprocess.confidence(np.full((30, 30), 0.5, np.float32)) == 0.0  # all hesitation
    # 100 decided pixels inside a ring of 44 hesitant ones (p = 0.5): 100 / 144.
    hesitant = lesion.copy()
    hesitant[9:21, 9:21] = np.maximum(hesitant[9:21, 9:21], 0.5)
    assert postprocess.confidence(hesitant) == pytest.approx(100 / 144)
    # the band's ends are 0.1 and 0.9 (the shipped thresholds were chosen with them): a ring
    # at 0.15 counts as lesion at the lower end, one at 0.85 not at the upper end
    for ring, expected in ((0.15, 100 / 144), (0.85, 100 / 144), (0.05, 1.0), (0.95, 1.0)):
        edged = lesion.copy()
        edged[9:21, 9:21] = np.maximum(edged[9:21, 9:21], ring)
        assert postprocess.confidence(edged) == pytest.approx(expected), ring
    assert postprocess.confidence(np.zeros((30, 30), np.float32)) == 1.0  # nothing to doubt
    with pytest.raises(ValueError, match="band"):
        postprocess.confidence(lesion, band=(0.9, 0.1))

def test_normalize_exposure_meets_the_target_and_keeps_colours() -> None:
    from mobilegan.inference.preprocess import mean_luminance, normalize_exposure

    rng = np.random.default_rng(0)
    dark = rng.integers(20, 90, size=(40, 50, 3), dtype=np.uint8)
    out = normalize_exposure(dark, target=120.0)
    assert out.dtype == np.uint8 and out.shape == dark.shape
    assert mean_luminance(out) == pytest.approx(120.0, abs=0.6)
    gain = out.astype(np.float64) / dark  # one gain for every channel: colours kept
    assert gain.std() < 0.03 and gain.mean() == pytest.approx(120.0 / mean_luminance(dark), rel=0.01)
    black = np.zeros((5, 5, 3), np.uint8)
    np.testing.assert_array_equal(normalize_exposure(black), black)
    bright = np.full((4, 4, 3), 250, np.uint8)  # brighter than the target: darkened, no wrap
    assert normalize_exposure(bright, target=200.0).max() == 200


@pytest.mark.parametrize("seed", range(6))
def test_fill_holes_in_the_bounding_box_equals_filling_the_whole_image(seed: int) -> None:
    """Random blobs with holes, touching the image's edges or not, sometimes with a hole
    whose background opens onto the bounding box's edge (not a hole: it must stay open)."""
    from scipy import ndimage

    rng = np.random.default_rng(seed)
    mask = ndimage.gaussian_filter(rng.random((61, 83)), 3) > 0.5
    if seed % 2:
        mask[:, :4] = True  # the lesion runs off the left edge
    mask[20:40, 30:35] = bool(seed % 3)
    mask[44:56, 60:76] = True
    mask[47:53, 63 + seed:70] = False  # one hole for sure
    expected = ndimage.binary_fill_holes(mask)
    assert expected[50, 69] and not mask[50, 69]
    np.testing.assert_array_equal(postprocess.fill_holes(mask), expected)
    ring = np.zeros((12, 12), bool)
    ring[2:10, 2:10] = True
    ring[4:8, 4:8] = False
    ring[5, 2] = False  # a notch joins the inner background to the box's edge: no hole now
    ring[5, 3] = ring[5, 4] = False
    np.testing.assert_array_equal(postprocess.fill_holes(ring), ndimage.binary_fill_holes(ring))
    assert not postprocess.fill_holes(ring)[5, 5]
    thin = np.zeros((12, 12), bool)
    thin[2:10, 2:10] = True
    thin[3:9, 3:9] = False  # walls one pixel thick: the hole touches all four box edges
    assert postprocess.fill_holes(thin)[2:10, 2:10].all()
    assert not postprocess.fill_holes(np.zeros((4, 5), bool)).any()
    assert postprocess.fill_holes(np.ones((4, 5), bool)).all()


def test_mean_luminance_is_exact_on_a_large_image() -> None:
    """Counted, not accumulated in float32 (which drifted by 5e-4 on a 6-megapixel photo)."""
    from mobilegan.inference.preprocess import mean_luminance, normalize_exposure

    rng = np.random.default_rng(1)
    photo = rng.integers(90, 200, size=(2000, 3000, 3), dtype=np.uint8)
    exact = photo.reshape(-1, 3).sum(axis=0, dtype=np.int64) / (2000 * 3000) @ [0.299, 0.587, 0.114]
    assert mean_luminance(photo) == pytest.approx(exact, rel=1e-12)
    view = photo[::7, ::5]  # a strided view is read as the pixels it shows
    exact_view = view.reshape(-1, 3).sum(axis=0, dtype=np.int64) / view[..., 0].size @ [0.299, 0.587, 0.114]
    assert mean_luminance(view) == pytest.approx(exact_view, rel=1e-12)
    table = np.clip(np.round(np.arange(256, dtype=np.float32) *
                             np.float32(140.0 / mean_luminance(view))), 0, 255).astype(np.uint8)
    np.testing.assert_array_equal(normalize_exposure(view, target=140.0), table[view])


def test_network_input_is_scaled_to_minus_one_one_as_in_training() -> None:
    """The inference batch (numpy, shared by the torch and ONNX backends) must equal what
    training fed the network: channels first, 0 -> -1, 255 -> 1."""
    import torch

    from mobilegan.data.tensors import normalize_images
    from mobilegan.inference.preprocess import prepare_batch

    image = np.zeros((8, 8, 3), np.uint8)
    image[:, 4:] = 255
    image[0, 0] = (10, 128, 200)
    batch = prepare_batch([image], 8)
    assert batch.shape == (1, 3, 8, 8) and batch.dtype == np.float32
    assert batch[0, :, 1, 0].tolist() == [-1.0, -1.0, -1.0]
    assert batch[0, :, 1, 7].tolist() == [1.0, 1.0, 1.0]
    trained = normalize_images(torch.from_numpy(image.transpose(2, 0, 1))[None]).numpy()
    assert np.allclose(batch, trained, atol=1e-6)


def test_arrays_of_every_kind_become_the_same_uint8_picture() -> None:
    """A bool mask is black and white, a float picture in [0, 1] is rounded to the nearest
    level (so 0.5 is 128, and a uint8 picture divided by 255 comes back exactly)."""
    from mobilegan.inference.preprocess import to_rgb

    levels = np.arange(256, dtype=np.uint8).reshape(16, 16)
    assert np.array_equal(to_rgb(levels / 255.0)[..., 0], levels)
    assert to_rgb(np.full((2, 2), 0.5))[0, 0].tolist() == [128, 128, 128]
    on = np.eye(3, dtype=bool)
    assert np.array_equal(to_rgb(on)[..., 1], on.astype(np.uint8) * 255)


def test_confidence_band_ends_are_strict() -> None:
    """area(p > 0.9) / area(p > 0.1): a pixel exactly at an end is outside it, as the
    shipped flagging thresholds were calibrated."""
    lesion = np.zeros((30, 30), dtype=np.float64)  # float64: 0.9 and 0.1 exactly as the band's
    lesion[10:20, 10:20] = 1.0
    ring = lesion.copy()
    ring[9:21, 9:21] = np.maximum(ring[9:21, 9:21], 0.9)
    assert postprocess.confidence(ring) == pytest.approx(100 / 144)
    low = lesion.copy()
    low[9:21, 9:21] = np.maximum(low[9:21, 9:21], 0.1)
    assert postprocess.confidence(low) == 1.0
