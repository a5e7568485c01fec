"""``mobilegan export --quantize int8``: its checks of the options and of the int8 file,
with the slow steps (ONNX export, quantisation, the masks' comparison) stood in for, since
what is under test is the command's decision, not the numbers those steps produce."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from mobilegan.cli.main import main
from mobilegan.data.synthetic import draw_lesion

from tests.conftest import untrained_weights


@pytest.fixture(scope="module")
def weights(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return untrained_weights(tmp_path_factory.mktemp("weights"))


def photos(folder: Path, count: int) -> Path:
    folder.mkdir()
    for seed in range(count):
        Image.fromarray(draw_lesion((48, 64), seed=seed)[0]).save(folder / f"lesion_{seed}.png")
    return folder


class Steps:
    """Stand-ins for the export and quantisation (each writes a small file), and for the
    masks' comparison (it returns ``agreement``, recording the images it was given)."""

    def __init__(self, agreement: dict[str, float]) -> None:
        self.agreement = agreement
        self.compared: list[list[np.ndarray]] = []
        self.calibrated: list[list[np.ndarray]] = []

    def export_onnx(self, model: object, out: Path, **kwargs: Any) -> Path:
        Path(out).write_bytes(b"float32")
        return Path(out)

    def quantize_onnx(self, fp32: Path, out: Path, images: list[np.ndarray],
                      **kwargs: Any) -> Path:
        self.calibrated.append(list(images))
        Path(out).write_bytes(b"int8")
        return Path(out)

    def mask_agreement(self, reference: Path, candidate: Path, images: list[np.ndarray],
                       image_size: int = 128, **kwargs: Any) -> dict[str, float]:
        self.compared.append(list(images))
        return dict(self.agreement, images=len(images))


@pytest.fixture()
def steps(monkeypatch: pytest.MonkeyPatch) -> Steps:
    import mobilegan.inference.export as export
    import mobilegan.inference.quantize as quantize

    fake = Steps({"mean_mask_jaccard": 0.97, "worst_mask_jaccard": 0.5,
                  "max_probability_change": 0.2, "both_empty": 0})
    monkeypatch.setattr(export, "export_onnx", fake.export_onnx)
    monkeypatch.setattr(quantize, "quantize_onnx", fake.quantize_onnx)
    monkeypatch.setattr(quantize, "mask_agreement", fake.mask_agreement)
    return fake


def quantize(weights: Path, folder: Path, out: Path, *options: str) -> int:
    return main(["export", str(weights), "--quantize", "int8", "--calibration", str(folder),
                 "--out", str(out), *options])


def test_check_with_no_image_left_beside_the_calibration_set_is_refused_first(
        weights: Path, tmp_path: Path, steps: Steps,
        capsys: pytest.CaptureFixture[str]) -> None:
    """Every image would go to calibration: nothing is left to check the int8 file on, so
    the command stops before the slow quantisation (exit 2), writing nothing; it once
    wrote the unchecked file under its --out name and exited 1."""
    folder = photos(tmp_path / "photos", 3)
    out = tmp_path / "q.onnx"
    assert quantize(weights, folder, out, "--calibration-images", "3", "--check") == 2
    said = capsys.readouterr()
    assert "--check needs training images beside the calibration set" in said.err
    assert "lower --calibration-images" in said.err
    assert "every readable one of the 3 images of" in said.err
    assert steps.calibrated == [] and steps.compared == []
    assert sorted(p.name for p in tmp_path.iterdir()) == ["photos"]


def test_check_compares_on_the_images_calibration_did_not_use(
        weights: Path, tmp_path: Path, steps: Steps,
        capsys: pytest.CaptureFixture[str]) -> None:
    folder = photos(tmp_path / "photos", 4)
    out = tmp_path / "q.onnx"
    assert quantize(weights, folder, out, "--calibration-images", "3", "--check") == 0
    assert len(steps.calibrated[0]) == 3 and len(steps.compared[0]) == 1
    calibrated = {image.tobytes() for image in steps.calibrated[0]}
    assert steps.compared[0][0].tobytes() not in calibrated
    assert "agreement with float32 on 1 other images" in capsys.readouterr().out


def test_agreement_on_empty_masks_alone_is_said_to_say_nothing(
        weights: Path, tmp_path: Path, steps: Steps,
        capsys: pytest.CaptureFixture[str]) -> None:
    """Both files finding no lesion anywhere agree perfectly and prove nothing (an untrained
    model passed so): the check says so."""
    folder = photos(tmp_path / "photos", 4)
    steps.agreement.update(mean_mask_jaccard=1.0, worst_mask_jaccard=1.0, both_empty=1)
    assert quantize(weights, folder, tmp_path / "q.onnx", "--calibration-images", "3",
                    "--check") == 0
    assert "neither file found a lesion in any of the 1 check images" in capsys.readouterr().err
    steps.agreement.update(both_empty=0)
    assert quantize(weights, folder, tmp_path / "r.onnx", "--calibration-images", "3",
                    "--check") == 0
    assert "neither file found a lesion" not in capsys.readouterr().err


def test_agreement_is_judged_on_the_mean_mask_jaccard(
        weights: Path, tmp_path: Path, steps: Steps,
        capsys: pytest.CaptureFixture[str]) -> None:
    """--min-agreement is the least *mean* Jaccard: a mean of 0.97 passes the default 0.95
    although one image's masks agree only at 0.5."""
    folder = photos(tmp_path / "photos", 4)
    out = tmp_path / "q.onnx"
    assert quantize(weights, folder, out, "--calibration-images", "2", "--check") == 0
    text = capsys.readouterr().out
    assert "mean mask Jaccard 0.9700 (worst 0.5000)" in text
    assert "OK (least 0.95)" in text and "FAILED" not in text
    assert out.is_file() and not (tmp_path / "q.check-failed.onnx").exists()


@pytest.mark.parametrize("earlier", [False, True])
def test_a_mean_jaccard_under_the_bar_sets_the_file_aside(
        weights: Path, tmp_path: Path, steps: Steps, earlier: bool,
        capsys: pytest.CaptureFixture[str]) -> None:
    """The file that failed is set aside; a checked file reaches its name only once it
    passes, so a good one already there stays."""
    steps.agreement.update(mean_mask_jaccard=0.9, worst_mask_jaccard=0.8,
                           max_probability_change=0.3)
    folder = photos(tmp_path / "photos", 4)
    out = tmp_path / "q.onnx"
    if earlier:
        out.write_bytes(b"an earlier, checked file")
    assert quantize(weights, folder, out, "--calibration-images", "2", "--check") == 1
    said = capsys.readouterr()
    assert "FAILED (least 0.95)" in said.out and "moved q.unchecked.onnx to" in said.err
    assert (tmp_path / "q.check-failed.onnx").read_bytes() == b"int8"
    assert not (tmp_path / "q.unchecked.onnx").exists()
    assert (out.read_bytes() == b"an earlier, checked file") if earlier else not out.exists()


@pytest.mark.parametrize("count", ["0", "-1"])
def test_calibration_on_no_images_is_refused_naming_the_option(
        weights: Path, tmp_path: Path, steps: Steps, count: str,
        capsys: pytest.CaptureFixture[str]) -> None:
    folder = photos(tmp_path / "photos", 2)
    out = tmp_path / "q.onnx"
    assert quantize(weights, folder, out, "--calibration-images", count) == 2
    assert f"--calibration-images must be >= 1, got {count}" in capsys.readouterr().err
    assert not out.exists() and steps.calibrated == []
