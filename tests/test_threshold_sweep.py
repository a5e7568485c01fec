"""benchmarks/threshold_sweep.py: every threshold scored from one prediction per image, the
choice made on held-out images only, the test set reported against the default."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def sweep_module():
    spec = importlib.util.spec_from_file_location("threshold_sweep",
                                                  REPO / "benchmarks" / "threshold_sweep.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_each_threshold_scores_its_own_mask_at_the_truths_resolution(sweep_module) -> None:
    # A left-to-right ramp at network size; the truth is the left quarter at 4x the size.
    probability = np.tile(np.linspace(1.0, 0.0, 16, dtype=np.float32), (16, 1))
    truth = np.zeros((64, 64), bool)
    truth[:, :16] = True
    scores = sweep_module.jac_by_threshold(probability, truth, [0.1, 0.75, 0.9])
    assert scores[1] > 0.9 > scores[0] and scores[1] > scores[2]  # 0.75 cuts near the quarter
    assert scores[0] == pytest.approx(0.25 / 0.9, abs=0.05)  # p > 0.1 covers 90% of the width


def test_a_threshold_replaces_the_default_only_when_its_gain_is_clear_of_noise(sweep_module) -> None:
    thresholds = [0.3, 0.5, 0.7]
    rng = np.random.default_rng(0)
    base = rng.uniform(0.6, 0.9, 200)
    # 0.7 beats 0.5 by 0.01 on every image: chosen.
    steady = {f"i{k}": [b - 0.02, b, b + 0.01] for k, b in enumerate(base)}
    assert sweep_module.choose(steady, thresholds) == (0.7, 0.7)
    # 0.7 wins on the mean by 0.002 but swings +-0.05 image by image: the default stays.
    swings = rng.choice([-0.048, 0.052], 200)
    noisy = {f"i{k}": [b - 0.02, b, b + d] for k, (b, d) in enumerate(zip(base, swings))}
    best, chosen = sweep_module.choose(noisy, thresholds)
    assert np.mean([v[2] - v[1] for v in noisy.values()]) > 0 and (best, chosen) == (0.7, 0.5)
    # A tie goes to the lower threshold; the default that is best is simply kept.
    tie = {"a": [0.5, 0.7, 0.7], "b": [0.6, 0.8, 0.8]}
    assert sweep_module.choose(tie, thresholds) == (0.5, 0.5)


def test_sweep_chooses_on_heldout_and_reports_the_test_set(sweep_module, isic2017: Path,
                                                          isic2018: Path, tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    from mobilegan.inference.segmenter import shipped_weights

    out = tmp_path / "sweep"
    monkeypatch.setattr(sys, "argv", ["threshold_sweep.py", str(shipped_weights()), str(isic2018),
                                      "--test-data", str(isic2017), "--thresholds", "0.3", "0.7",
                                      "--limit", "3", "--device", "cpu", "--out", str(out)])
    sweep_module.main()
    record = json.loads((out / "sweep.json").read_text())
    assert record["thresholds"] == [0.3, 0.5, 0.7]  # the default is always swept
    assert record["n"] == {"held-out": 3, "test": 3}
    heldout = record["mean_jac"]["held-out"]
    assert record["best"] == record["thresholds"][int(np.argmax(heldout))]
    assert record["chosen"] in (record["best"], 0.5) and record["chosen_on"] == "held-out"
    table = (out / "sweep.md").read_text()
    if record["best"] != 0.5:
        assert "| 0.50 (default) |" in table and "held-out: " in table and "test: " in table
    assert f"- chosen: {record['chosen']:.2f}" in table
    assert (out / "sweep.png").stat().st_size > 0
    assert "held-out JAC (n = 3)" in table and "test JAC (n = 3)" in table


def test_a_user_chooses_on_a_labelled_folder_of_their_own(sweep_module, tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """A device maker's own labelled images (drawn here) choose the threshold: no run splits,
    no test set; the table says what it chose on."""
    from PIL import Image

    from mobilegan.data.synthetic import draw_lesion
    from mobilegan.inference.segmenter import shipped_weights

    folder = tmp_path / "mine"
    (folder / "images").mkdir(parents=True), (folder / "masks").mkdir()
    for seed in range(3):
        image, mask = draw_lesion((96, 128), seed=seed)
        Image.fromarray(image).save(folder / "images" / f"ISIC_900000{seed}.jpg")
        Image.fromarray((mask * 255).astype(np.uint8)).save(folder / "masks" / f"ISIC_900000{seed}_segmentation.png")
    out = tmp_path / "sweep"
    monkeypatch.setattr(sys, "argv", ["threshold_sweep.py", str(shipped_weights()), str(folder),
                                      "--choose-split", "all", "--thresholds", "0.4", "0.6",
                                      "--device", "cpu", "--out", str(out)])
    sweep_module.main()
    record = json.loads((out / "sweep.json").read_text())
    assert record["n"] == {"mine all": 3} and "test" not in record["mean_jac"]
    assert record["best"] == record["thresholds"][int(np.argmax(record["mean_jac"]["mine all"]))]
    table = (out / "sweep.md").read_text()
    assert "chosen on mine all." in table and "reported on the test set" not in table
    assert "best on mine all" in table
