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
