"""scripts/package_weights.py: a run's best generator as fp16 weights with a model card whose
metrics come from the evaluations given, loadable by the Segmenter."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from mobilegan.evaluation.evaluate import evaluate
from mobilegan.inference.segmenter import Segmenter
from mobilegan.models.io import read_model_info

try:  # tests/ is a package in this checkout; a plain rootdir import otherwise
    from tests.test_evaluation import make_tiny_run
except ImportError:  # pragma: no cover
    from test_evaluation import make_tiny_run  # type: ignore[no-redef]

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory: pytest.TempPathFactory, data_root: Path) -> Path:
    return make_tiny_run(tmp_path_factory.getbasetemp(), data_root)


def test_package_writes_fp16_weights_and_a_card_with_measured_numbers(
        tiny_run: Path, isic2017: Path, tmp_path: Path) -> None:
    evaluation = evaluate(tiny_run, isic2017, split="test", limit=3, out_dir=tmp_path / "eval",
                          progress=False)
    note = tmp_path / "note.md"
    note.write_text("Trained for two steps only: a test.\n")
    out = tmp_path / "weights"
    subprocess.run([sys.executable, str(REPO / "scripts" / "package_weights.py"), str(tiny_run),
                    "--eval", str(tmp_path / "eval"), "--note-file", str(note),
                    "--out-dir", str(out)], check=True, capture_output=True, text=True)
    info = read_model_info(out / "mobilegan.safetensors")
    splits = json.loads((tiny_run / "splits.json").read_text())
    assert info["metadata"]["train_ids_sha256"] == splits["train_ids_sha256"]
    assert info["metadata"]["protocol"] == "leak-free"
    shipped_splits = json.loads((out / "mobilegan.splits.json").read_text())
    assert shipped_splits["train"] == splits["train"] and shipped_splits["val"] == splits["val"]
    card = (out / "MODEL_CARD.md").read_text()
    assert "Trained for two steps only: a test." in card and "Not a medical device" in card
    assert "augmentation (flips, gamma, CLAHE)" in card  # nothing beyond the paper switched on
    assert "trained as a GAN" in card  # the tiny run kept the adversary (the default)
    # Its optimiser, batch and input size as it ran them (batch 4 at 64x64), not the paper's.
    assert "Adam at lr 0.0002, betas 0.5/0.999, batch 4 (the paper: lr 0.0002" in card
    assert "input size 64x64" in card and "the paper's optimiser" not in card
    jac = f"{100 * evaluation.summary['mean']['JAC']:.2f}"
    assert jac in card and "{" not in card.split("## Provenance")[0]
    from safetensors import safe_open

    with safe_open(str(out / "mobilegan.safetensors"), "pt") as handle:
        dtypes = {str(handle.get_tensor(k).dtype) for k in handle.keys()}
    assert "torch.float16" in dtypes and "torch.float32" not in dtypes
    result = Segmenter(out / "mobilegan.safetensors").predict(np.zeros((40, 50, 3), np.uint8))
    assert result.mask.shape == (40, 50)


def test_the_card_does_not_call_gan_free_weights_a_gans() -> None:
    import importlib.util

    spec = importlib.util.spec_from_file_location("package_weights",
                                                  REPO / "scripts" / "package_weights.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.training_kind({"adversarial": True}) == "as a GAN"
    gan_free = module.training_kind({"adversarial": False})
    assert "without the adversary" in gan_free and "GAN" not in gan_free
    # A second stage says the earlier stages may have had one; a run from scratch says none did.
    assert "last stage" in module.training_kind({"adversarial": False, "init_generator": "a.safetensors"})
    assert "start to end" in gan_free and "last stage" not in gan_free
    assert module.loss_weights({"l1": 0.1, "jaccard": 0.5}) == "L1 0.1, Jaccard 0.5 (the paper's equation)"
    assert module.loss_weights({"l1": 0.5, "jaccard": 0.1}).endswith("(the paper's text)")
    assert module.loss_weights({"l1": 0.3, "jaccard": 0.3}) == "L1 0.3, Jaccard 0.3"
    loss = {"adversarial": 1.0, "l1": 0.1, "jaccard": 0.5}
    assert module.used_losses({"loss": loss, "train": {"adversarial": False}}) == {"l1": 0.1, "jaccard": 0.5}
    assert module.used_losses({"loss": loss, "train": {"adversarial": True}}) == loss
    # The card calls the optimiser and batch the paper's only where they are (v6: batch 64).
    assert module.optimiser({"lr": 2e-4, "betas": [0.5, 0.999], "batch_size": 8}).startswith(
        "the paper's optimiser and batch size (Adam at lr 0.0002, betas 0.5/0.999, batch 8)")
    gpu = module.optimiser({"lr": 5e-4, "betas": [0.5, 0.999], "batch_size": 64})
    assert gpu.startswith("Adam at lr 0.0005, betas 0.5/0.999, batch 64 (the paper: lr 0.0002")
    assert "paper's optimiser" not in gpu


def test_the_shipped_generator_scores_its_recorded_validation_jac(isic2018: Path) -> None:
    """The shipped file, run by today's network code on its own 413 validation images,
    scores the val_JAC recorded when it was trained (float32 then, fp16 as shipped): a
    change to any block, attention module or the input scaling that moves its numbers
    shows here, against the trained weights rather than a random start."""
    from mobilegan.data.cache import load_cached
    from mobilegan.inference.segmenter import PACKAGED_WEIGHTS
    from mobilegan.data.layouts import load_samples
    from mobilegan.models.io import load_model
    from mobilegan.training.validation import validate

    shipped = PACKAGED_WEIGHTS
    recorded = read_model_info(shipped)["metadata"]
    val_ids = set(json.loads(shipped.with_name("mobilegan.splits.json").read_text())["val"])
    samples = [s for s in load_samples(isic2018) if s.id in val_ids]
    assert len(samples) == recorded["n_val"] == 413
    data = load_cached(samples, recorded["image_size"], progress=False)
    generator, _ = load_model(shipped)
    threads = torch.get_num_threads()
    torch.set_num_threads(2)  # 413 images: the machine's two cores
    try:
        score = validate(generator.float(), data)["val_JAC"]
    finally:
        torch.set_num_threads(threads)
    # fp16 storage moved it by 1e-5; a changed block moves it by far more.
    assert abs(score - recorded["val_JAC"]) < 0.0005, (score, recorded["val_JAC"])


def test_the_flagging_thresholds_are_the_held_out_quantiles_of_the_shipped_weights() -> None:
    """Each low-confidence threshold in the code is the 20% quantile, rounded, of the
    shipped weights' confidence scores on their held-out images, as recorded where it was
    chosen (results/v6/confidence_calibration*.json; the test set only reports them). The
    folder is tied to the shipped file by its training curve: new weights shipped without
    choosing the thresholds again, or a constant edited by hand, fail here."""
    import csv

    from mobilegan.inference import segmenter
    from mobilegan.inference.segmenter import PACKAGED_WEIGHTS

    folder = REPO / "results" / "v6"
    with (folder / "metrics.csv").open() as handle:
        best = max(float(row["val_JAC"]) for row in csv.DictReader(handle) if row["val_JAC"])
    assert best == pytest.approx(read_model_info(PACKAGED_WEIGHTS)["metadata"]["val_JAC"], abs=1e-9)
    chosen = {"": segmenter.LOW_CONFIDENCE, "_samples8": segmenter.LOW_CONFIDENCE_SAMPLED,
              "_samples2": segmenter.LOW_CONFIDENCE_FEW_SAMPLES[2],
              "_samples4": segmenter.LOW_CONFIDENCE_FEW_SAMPLES[4],
              "_tta": segmenter.LOW_CONFIDENCE_TTA,
              "_samples8_tta": segmenter.LOW_CONFIDENCE_SAMPLED_TTA}
    for suffix, threshold in chosen.items():
        record = json.loads((folder / f"confidence_calibration{suffix}.json").read_text())
        assert record["split"] is None and record["n"] == 413  # the held-out images, all
        quantile = next(q for q in record["confidence"]["quantiles"] if q["quantile"] == 0.2)
        assert round(quantile["threshold"], 3) == threshold, suffix
