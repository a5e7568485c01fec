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
    # The choice is the best held-out mean, the lower threshold on a tie.
    heldout = {"a": [0.5, 0.7, 0.7], "b": [0.6, 0.8, 0.8]}
    assert sweep_module.choose(heldout, [0.3, 0.5, 0.7]) == 0.5


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
    assert record["chosen"] == record["thresholds"][int(np.argmax(heldout))]
    table = (out / "sweep.md").read_text()
    if record["chosen"] != 0.5:
        assert "| 0.50 (default) |" in table and "minus 0.50" in table
    else:
        assert "choose the default threshold 0.50" in table
    assert "held-out JAC (n = 3)" in table and "test JAC (n = 3)" in table
