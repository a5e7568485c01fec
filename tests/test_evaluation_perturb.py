"""Robustness perturbations: image-only, deterministic per image id, each a real change."""

from __future__ import annotations

import re

import numpy as np
import pytest

from mobilegan.data.synthetic import draw_lesion
from mobilegan.evaluation.perturb import PERTURBATIONS, perturb


@pytest.fixture(scope="module")
def image() -> np.ndarray:
    return draw_lesion((96, 128), seed=4, label=False)[0]


@pytest.mark.parametrize("name", sorted(PERTURBATIONS))
def test_each_perturbation_changes_the_image_reproducibly(name: str, image: np.ndarray) -> None:
    out = perturb(name, image, "ISIC_0000001")
    assert out.shape == image.shape and out.dtype == np.uint8
    assert np.abs(out.astype(int) - image.astype(int)).mean() > 0.5
    assert np.array_equal(out, perturb(name, image, "ISIC_0000001"))


def test_random_perturbations_differ_between_images(image: np.ndarray) -> None:
    assert not np.array_equal(perturb("noise", image, "a"), perturb("noise", image, "b"))


def test_perturbations_do_what_they_say(image: np.ndarray) -> None:
    def sharpness(x: np.ndarray) -> float:
        return float(np.abs(np.diff(x.astype(float), axis=1)).mean())

    assert sharpness(perturb("blur", image, "x")) < sharpness(image)
    assert sharpness(perturb("low_res", image, "x")) < sharpness(image)
    assert perturb("dark", image, "x").mean() < 0.7 * image.mean()
    warm = perturb("warm", image, "x").astype(float)
    assert warm[..., 0].mean() > image[..., 0].mean() and warm[..., 2].mean() < image[..., 2].mean()
    assert perturb("low_contrast", image, "x").std() < image.std()


def test_vignette_darkens_the_corners_and_keeps_the_centre(image: np.ndarray) -> None:
    out = perturb("vignette", image, "x")
    height, width = image.shape[:2]
    assert out[0, 0].max() == 0 and out[-1, -1].max() == 0
    centre = np.s_[height // 2 - 10:height // 2 + 10, width // 2 - 10:width // 2 + 10]
    assert np.array_equal(out[centre], image[centre])


def test_hair_draws_thin_dark_strands(image: np.ndarray) -> None:
    out = perturb("hair", image, "x").astype(int)
    changed = np.any(out != image, axis=-1)
    assert 0.01 < changed.mean() < 0.2  # strands, not a veil
    assert out[changed].max() < 60  # hair-coloured: dark brown
    assert out[changed].mean() < image[changed].mean() - 40


def test_unknown_perturbation_is_named() -> None:
    with pytest.raises(ValueError, match="unknown perturbation 'fog'"):
        perturb("fog", np.zeros((4, 4, 3), np.uint8), "x")


def test_evaluate_help_names_every_perturbation() -> None:
    """The CLI lists the names by hand (importing the module would put numpy and Pillow on
    every command's start-up), so this keeps the list from falling behind."""
    import argparse

    from mobilegan.cli.main import build_parser

    parser = build_parser()
    subparsers = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    help_text = " ".join(subparsers.choices["evaluate"].format_help().split())
    listed = re.search(r"robustness check\): (.*?); the ground truth", help_text)
    assert listed is not None
    assert sorted(listed.group(1).split(", ")) == sorted(PERTURBATIONS)


# The tests above check each perturbation's direction (blurrier, darker, warmer); these
# check its size, the number its description states, so that a changed constant shows.

@pytest.fixture(scope="module")
def drawn() -> np.ndarray:
    return draw_lesion((96, 128), seed=4, label=False)[0]


@pytest.mark.parametrize("name, factors", [("warm", (1.12, 1.0, 0.85)),
                                           ("cool", (0.88, 1.0, 1.12)),
                                           ("dark", (0.6, 0.6, 0.6))])
def test_colour_perturbations_scale_each_channel_by_the_stated_factor(name: str, factors) -> None:
    grey = np.full((8, 8, 3), 100, np.uint8)
    out = perturb(name, grey, "x")
    assert out[0, 0].tolist() == [round(100 * f) for f in factors]
    assert f"x{factors[0]:g}" in PERTURBATIONS[name].description


def test_low_res_removes_detail_finer_than_four_pixels() -> None:
    """A quarter of the resolution: stripes two pixels wide (a period of four) average out
    to flat grey; at half the resolution they would survive."""
    stripes = np.zeros((64, 64, 3), np.uint8)
    stripes[:, 2::4] = stripes[:, 3::4] = 255
    out = perturb("low_res", stripes, "x").astype(float)
    assert out.std() < 5 and abs(out.mean() - 127.5) < 5


def test_jpeg_is_quality_20() -> None:
    from io import BytesIO

    from PIL import Image

    image = draw_lesion((96, 128), seed=4, label=False)[0]
    buffer = BytesIO()
    Image.fromarray(image).save(buffer, format="JPEG", quality=20)
    expected = np.asarray(Image.open(BytesIO(buffer.getvalue())).convert("RGB"))
    assert np.array_equal(perturb("jpeg", image, "x"), expected)


def test_blur_radius_is_one_percent_of_the_short_side(drawn: np.ndarray) -> None:
    from PIL import Image, ImageFilter

    expected = np.asarray(Image.fromarray(drawn).filter(ImageFilter.GaussianBlur(96 / 100)))
    assert np.array_equal(perturb("blur", drawn, "x"), expected)


def test_noise_has_a_sigma_of_twelve_grey_levels() -> None:
    grey = np.full((128, 128, 3), 128, np.uint8)  # far from 0 and 255: nothing clipped
    difference = perturb("noise", grey, "x").astype(float) - 128
    assert abs(difference.std() - 12) < 0.5 and abs(difference.mean()) < 0.3


def test_low_contrast_scales_deviations_from_the_mean_by_six_tenths(drawn: np.ndarray) -> None:
    out = perturb("low_contrast", drawn, "x").astype(float)
    pixels = drawn.astype(float)
    ratio = out.std(axis=(0, 1)) / pixels.std(axis=(0, 1))
    assert np.allclose(ratio, 0.6, atol=0.01)
    assert np.allclose(out.mean(axis=(0, 1)), pixels.mean(axis=(0, 1)), atol=0.6)


def test_vignette_circle_spans_the_long_side() -> None:
    """Diameter = the long side: on a landscape image the middle of the top and bottom
    edges is still lit (a circle on the short side would blacken them)."""
    white = np.full((96, 160, 3), 200, np.uint8)
    out = perturb("vignette", white, "x")
    assert out[0, 80].min() == 200 and out[-1, 79].min() == 200
    assert out[0, 0].max() == 0


def test_hair_draws_twenty_strands() -> None:
    """Each hair gets one dark colour of its own: on a plain image more than ten distinct
    colours mean more than ten hairs (twenty draws of forty colours give about sixteen)."""
    plain = np.full((256, 256, 3), 220, np.uint8)
    out = perturb("hair", plain, "ISIC_0000001")
    colours = {tuple(c) for c in out.reshape(-1, 3).tolist()} - {(220, 220, 220)}
    assert len(colours) > 10
