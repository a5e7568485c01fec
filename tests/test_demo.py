"""``mobilegan demo``: runs as a user would run it, and says so when weights are missing."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from mobilegan.cli.main import main
from mobilegan.inference.segmenter import WEIGHTS_ENV
from tests.conftest import untrained_weights


@pytest.fixture(scope="module")
def weights(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return untrained_weights(tmp_path_factory.mktemp("weights"), seed=3)


def test_demo_writes_its_files(weights: Path, tmp_path: Path) -> None:
    out = tmp_path / "demo"
    env = {**os.environ, WEIGHTS_ENV: str(weights), "OMP_NUM_THREADS": "1"}
    done = subprocess.run([sys.executable, "-m", "mobilegan.cli.main", "demo", "--out", str(out)],
                          capture_output=True, text=True, env=env, timeout=180)
    assert done.returncode == 0, done.stderr
    for name in ("synthetic_lesion.png", "synthetic_lesion_segmentation.png",
                 "synthetic_lesion_overlay.png"):
        assert str(out / name) in done.stdout
        assert Image.open(out / name).size == (256, 192)
    assert "Dice against the drawn mask:" in done.stdout
    assert "lesion area:" in done.stdout and "SYNTHETIC" in done.stdout


def test_demo_weights_option(weights: Path, tmp_path: Path,
                             capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo", "--out", str(tmp_path), "--weights", str(weights), "--seed", "2"]) == 0
    assert "synthetic" in capsys.readouterr().out.lower()


def test_demo_without_weights_exits_2(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    from mobilegan.inference import segmenter

    monkeypatch.delenv(WEIGHTS_ENV, raising=False)
    monkeypatch.setattr(segmenter, "PACKAGED_WEIGHTS", tmp_path / "absent.safetensors")
    assert main(["demo", "--out", str(tmp_path / "demo")]) == 2
    err = capsys.readouterr().err
    assert "shipped weights are not installed" in err and "--weights" in err
    assert not (tmp_path / "demo").exists()


def test_demo_names_a_weights_variable_that_points_nowhere(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv(WEIGHTS_ENV, str(tmp_path / "typo.safetensors"))
    assert main(["demo", "--out", str(tmp_path / "demo")]) == 2
    err = capsys.readouterr().err
    assert f"${WEIGHTS_ENV} names" in err and "typo.safetensors" in err
    assert "not installed" not in err and not (tmp_path / "demo").exists()
    assert "until the shipped weights are installed" not in err  # they may well be


def test_demo_runs_an_onnx_export(weights: Path, tmp_path: Path,
                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """`demo --weights model.onnx` runs it on onnxruntime (demo has no --backend option),
    as does an export named by $MOBILEGAN_WEIGHTS, whatever the suffix's case."""
    onnx_file = tmp_path / "m.onnx"
    assert main(["export", str(weights), "--out", str(onnx_file)]) == 0
    assert main(["demo", "--out", str(tmp_path / "d"), "--weights", str(onnx_file)]) == 0
    assert Image.open(tmp_path / "d" / "synthetic_lesion_segmentation.png").size == (256, 192)
    shouting = onnx_file.rename(tmp_path / "M.ONNX")
    monkeypatch.setenv(WEIGHTS_ENV, str(shouting))
    assert main(["demo", "--out", str(tmp_path / "e")]) == 0
    assert (tmp_path / "e" / "synthetic_lesion_segmentation.png").is_file()
