"""Int8 ONNX: the convolutions quantised, the attention left in float32, masks that agree
with float32 on real images, calibration that never touches test images, and the shipped
int8 file made from the shipped weights."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import onnx
import pytest
import torch
from PIL import Image

from mobilegan.cli.main import main
from mobilegan.data.layouts import load_samples
from mobilegan.data.synthetic import draw_lesion
from mobilegan.evaluation.evaluate import evaluate
from mobilegan.inference.export import read_onnx_metadata
from mobilegan.inference.onnx_backend import OnnxBackend
from mobilegan.inference.quantize import (CALIBRATION_BATCH, QUANTIZED_OPS, mask_agreement,
                                          quantize_onnx, read_quantization)
from mobilegan.inference.preprocess import read_input_file
from mobilegan.inference.segmenter import Segmenter, shipped_int8, shipped_weights
from mobilegan.inference.torch_backend import export_weights_to_onnx

SHIPPED_SPLITS = shipped_weights().with_name("mobilegan.splits.json")


def _train_ids() -> list[str]:
    return json.loads(SHIPPED_SPLITS.read_text())["train"]


@pytest.fixture(scope="module")
def train_samples(isic2018: Path) -> list:
    allowed = set(_train_ids())
    return [s for s in load_samples(isic2018, None) if s.id in allowed]


@pytest.fixture(scope="module")
def float_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("float")
    return export_weights_to_onnx(shipped_weights(), folder / "mobilegan.onnx")


@pytest.fixture(scope="module")
def int8_file(float_file: Path, train_samples: list) -> Path:
    chosen = train_samples[:12]
    return quantize_onnx(float_file, float_file.with_name("int8.onnx"),
                         [read_input_file(s.image) for s in chosen],
                         calibration_ids=[s.id for s in chosen], calibration_source="test")


def _producers(graph: onnx.GraphProto) -> dict[str, onnx.NodeProto]:
    return {out: node for node in graph.node for out in node.output}


def test_convolutions_are_int8_and_attention_stays_float(int8_file: Path,
                                                         float_file: Path) -> None:
    graph = onnx.load(str(int8_file)).graph
    produced_by = _producers(graph)
    int8_weights = {t.name for t in graph.initializer if t.data_type == onnx.TensorProto.INT8}
    convs = [n for n in graph.node if n.op_type == "Conv"]
    assert convs
    for conv in convs:  # every weight reaches its Conv through a DequantizeLinear of int8
        weight = produced_by[conv.input[1]]
        assert weight.op_type == "DequantizeLinear" and weight.input[0] in int8_weights
    for node in graph.node:  # nothing quantises the attention's matmuls or softmax
        if node.op_type == "QuantizeLinear" and node.input[0] in produced_by:
            assert produced_by[node.input[0]].op_type not in ("MatMul", "Softmax")
    float_graph = onnx.load(str(float_file)).graph
    count = lambda g, op: sum(n.op_type == op for n in g.node)  # noqa: E731
    assert count(graph, "Softmax") == count(float_graph, "Softmax") > 0
    assert count(graph, "MatMul") == count(float_graph, "MatMul") > 0


def test_int8_masks_agree_with_float_on_other_training_images(
        int8_file: Path, float_file: Path, train_samples: list) -> None:
    others = [read_input_file(s.image) for s in train_samples[12:28]]
    agree = mask_agreement(float_file, int8_file, others)
    assert agree["images"] == 16 and 0 <= agree["both_empty"] < 16
    assert agree["mean_mask_jaccard"] > 0.95, agree
    assert agree["worst_mask_jaccard"] > 0.8, agree


def test_int8_records_its_calibration_and_keeps_the_float_metadata(
        int8_file: Path, float_file: Path, train_samples: list) -> None:
    record = read_quantization(int8_file)
    assert record is not None and read_quantization(float_file) is None
    assert record.calibration_images == 12
    assert record.calibration_ids == [s.id for s in train_samples[:12]]
    assert record.ops == list(QUANTIZED_OPS) and record.image_size == 128
    meta = read_onnx_metadata(int8_file)
    assert meta["mobilegan.model"] == read_onnx_metadata(float_file)["mobilegan.model"]
    assert meta["mobilegan.source"] == "mobilegan.safetensors"
    # anyone can check which weights and which images made the file
    assert meta["mobilegan.source_sha256"] == hashlib.sha256(
        shipped_weights().read_bytes()).hexdigest()
    assert record.calibration_ids_sha256 == hashlib.sha256(
        "\n".join(sorted(record.calibration_ids)).encode()).hexdigest()


def test_an_int8_file_runs_at_the_size_its_weights_trained_at(
        float_file: Path, train_samples: list) -> None:
    """Calibrated at another size, the file still runs (and is scored) at the training
    size: the Segmenter and evaluation read one rule."""
    from mobilegan.evaluation.source import resolve_source

    image = read_input_file(train_samples[0].image)
    other = quantize_onnx(float_file, float_file.with_name("int8_96.onnx"), [image], image_size=96)
    assert read_quantization(other).image_size == 96
    assert OnnxBackend(other).image_size == resolve_source(other).image_size == 128
    assert Segmenter(other, backend="int8").image_size == 128
    # weights that never recorded a size: both run the file at its calibration size
    unsized = onnx.load(str(float_file))
    for prop in unsized.metadata_props:
        if prop.key == "mobilegan.metadata":
            prop.value = json.dumps({k: v for k, v in json.loads(prop.value).items()
                                     if k != "image_size"})
    onnx.save(unsized, str(float_file.with_name("unsized.onnx")))
    bare = quantize_onnx(float_file.with_name("unsized.onnx"), float_file.with_name("bare.onnx"),
                         [image], image_size=96)
    assert OnnxBackend(bare).image_size == resolve_source(bare).image_size == 96


def test_int8_keeps_dynamic_batch_and_size(int8_file: Path) -> None:
    x = np.random.default_rng(0).uniform(-1, 1, (2, 3, 96, 128)).astype(np.float32)
    assert OnnxBackend(int8_file).logits(x).shape == (2, 1, 96, 128)


def test_quantize_refuses_bad_calibration(float_file: Path, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="at least one calibration image"):
        quantize_onnx(float_file, tmp_path / "q.onnx", [])
    image = np.zeros((20, 20, 3), np.uint8)
    with pytest.raises(ValueError, match="2 calibration ids for 1 images"):
        quantize_onnx(float_file, tmp_path / "q.onnx", [image], calibration_ids=["a", "b"])
    with pytest.raises(FileNotFoundError):
        quantize_onnx(tmp_path / "absent.onnx", tmp_path / "q.onnx", [image])
    assert not (tmp_path / "q.onnx").exists()


def test_every_calibration_batch_sets_the_ranges(float_file: Path, tmp_path: Path) -> None:
    """The int8 input's range covers every calibration image, the first batch's too: with
    onnxruntime's flush interval its calibrator dropped whole sets of batches unmerged, and
    the shipped int8 file of 2026-11-29 was calibrated on 8 of its 128 images."""
    def input_scale(path: Path) -> float:
        graph = onnx.load(str(path)).graph
        [node] = [n for n in graph.node if n.op_type == "QuantizeLinear" and n.input[0] == "image"]
        scales = {t.name: onnx.numpy_helper.to_array(t) for t in graph.initializer}
        return float(scales[node.input[1]])

    rng = np.random.default_rng(0)
    dull = [np.full((32, 32, 3), 120, np.uint8) + rng.integers(0, 8, (32, 32, 3), dtype=np.uint8)
            for _ in range(5 * CALIBRATION_BATCH)]
    vivid = [rng.integers(0, 256, (32, 32, 3), dtype=np.uint8) for _ in range(CALIBRATION_BATCH)]
    options = {"image_size": 32, "exposure": False}
    first = input_scale(quantize_onnx(float_file, tmp_path / "first.onnx", vivid + dull, **options))
    last = input_scale(quantize_onnx(float_file, tmp_path / "last.onnx", dull + vivid, **options))
    only_dull = input_scale(quantize_onnx(float_file, tmp_path / "dull.onnx", dull, **options))
    assert first == pytest.approx(last) and first == pytest.approx(2 / 255, rel=0.02)  # [-1, 1]
    assert only_dull < first / 5


# ---- the shipped int8 file -----------------------------------------------------------------

def test_shipped_int8_is_made_from_the_shipped_weights_and_its_training_images(
        isic2017: Path) -> None:
    path = shipped_int8()
    meta = read_onnx_metadata(path)
    assert meta["mobilegan.source_sha256"] == hashlib.sha256(shipped_weights().read_bytes()).hexdigest()
    record = read_quantization(path)
    assert record is not None and record.calibration_ids and record.ops == list(QUANTIZED_OPS)
    assert set(record.calibration_ids) <= set(_train_ids())
    test_ids = {s.id for s in load_samples(isic2017, "test")}
    assert not set(record.calibration_ids) & test_ids
    assert path.stat().st_size < 5_000_000


def test_segmenter_int8_backend_matches_torch_on_a_real_image(isic2017: Path) -> None:
    image = sorted((isic2017 / "ISIC-2017_Test_v2_Data").glob("*.jpg"))[3]
    fast = Segmenter.from_pretrained(backend="int8").predict(image)
    reference = Segmenter.from_pretrained().predict(image)
    width, height = Image.open(image).size
    assert fast.mask.shape == (height, width)
    union = np.logical_or(fast.mask, reference.mask).sum()
    assert union and np.logical_and(fast.mask, reference.mask).sum() / union > 0.9


def test_int8_backend_runs_without_torch(isic2017: Path) -> None:
    image = sorted((isic2017 / "ISIC-2017_Test_v2_Data").glob("*.jpg"))[0]
    script = textwrap.dedent(f"""
        import sys
        sys.modules["torch"] = None  # any `import torch` now raises ImportError
        from mobilegan.inference.segmenter import Segmenter
        result = Segmenter.from_pretrained(backend="int8").predict({str(image)!r})
        assert sys.modules["torch"] is None
        print(result.mask.shape, result.area_pixels)
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          env={**os.environ, "OMP_NUM_THREADS": "1"}, timeout=120)
    assert done.returncode == 0, done.stderr
    width, height = Image.open(image).size
    assert done.stdout.startswith(f"({height}, {width})")


def test_int8_backend_refuses_what_it_cannot_do(float_file: Path, tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ValueError, match="float ONNX file"):
        Segmenter(float_file, backend="int8")
    with pytest.raises(ValueError, match="int8 .onnx"):
        Segmenter(shipped_weights(), backend="int8")
    with pytest.raises(ValueError, match="samples > 1"):
        Segmenter.from_pretrained(backend="int8", samples=4)
    monkeypatch.setenv("MOBILEGAN_WEIGHTS", str(float_file))  # no int8 twin beside it
    with pytest.raises(FileNotFoundError, match="no shipped int8 model"):
        Segmenter.from_pretrained(backend="int8")


def test_evaluate_scores_an_int8_file_with_its_protocol(isic2017: Path, tmp_path: Path) -> None:
    result = evaluate(shipped_int8(), isic2017, split="test", limit=4, out_dir=tmp_path / "e",
                      progress=False, exposure=True)
    summary = result.summary
    assert summary["runtime"] == "onnxruntime int8" and summary["n"] == 4
    assert summary["protocol"] == "leak-free" and summary["overlap"]["known"]
    assert summary["leak_label"] == "" and summary["params"] == 2_322_132


def test_an_onnx_file_runs_on_the_threads_its_summary_names(isic2017: Path,
                                                             tmp_path: Path) -> None:
    from mobilegan.evaluation.source import OnnxNetwork

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        network = OnnxNetwork(shipped_int8())
        session_threads = network.backend.session.get_session_options().intra_op_num_threads
        result = evaluate(shipped_int8(), isic2017, split="test", limit=2,
                          out_dir=tmp_path / "e", progress=False)
    finally:
        torch.set_num_threads(before)
    assert session_threads == 1
    assert result.summary["card"].endswith("(1 thread)")


def test_shipped_weights_carry_their_ids_so_a_leak_is_named(isic2018: Path,
                                                            tmp_path: Path) -> None:
    result = evaluate(shipped_weights(), isic2018, split="all", limit=30, out_dir=tmp_path / "e",
                      progress=False)
    assert result.summary["overlap"]["known"] and result.summary["leak"]
    assert result.summary["leak_label"].startswith("LEAK:")


# ---- the CLI ---------------------------------------------------------------------------------

def test_cli_quantize_needs_calibration_images(capsys: pytest.CaptureFixture[str],
                                               tmp_path: Path) -> None:
    assert main(["export", "--quantize", "int8", "--out", str(tmp_path / "q.onnx")]) == 2
    assert "--calibration DIR" in capsys.readouterr().err
    assert not (tmp_path / "q.onnx").exists()


def _run_folder(tmp_path: Path, train_ids: list[str]) -> Path:
    run = tmp_path / "run"
    run.mkdir()
    shutil.copy(shipped_weights(), run / "best.safetensors")
    shutil.copy(shipped_weights().with_suffix(".json"), run / "best.json")
    (run / "splits.json").write_text(json.dumps({"train": train_ids, "val": []}))
    return run / "best.safetensors"


def test_cli_calibrates_only_on_the_runs_training_ids(
        train_samples: list, isic2018: Path, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    allowed = [s.id for s in train_samples[40:45]]
    weights = _run_folder(tmp_path, allowed)
    out = tmp_path / "q.onnx"
    code = main(["export", str(weights), "--quantize", "int8", "--calibration", str(isic2018),
                 "--calibration-images", "3", "--check", "--out", str(out)])
    text = capsys.readouterr().out
    assert code == 0, text
    assert "calibrated on 3 images" in text and "agreement with float32 on 2 other" in text
    record = read_quantization(out)
    assert record is not None and set(record.calibration_ids) <= set(allowed)
    assert len(set(record.calibration_ids)) == 3


def test_cli_names_the_file_after_its_weights_and_holds_it_to_min_agreement(
        train_samples: list, isic2018: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    """Without --out: <weights>_int8.onnx in the current folder. --min-agreement is the
    bar: at 1.0 (masks identical to float32's on every other image) the file is set aside."""
    weights = _run_folder(tmp_path, [s.id for s in train_samples[40:45]])
    monkeypatch.chdir(tmp_path)
    code = main(["export", str(weights), "--quantize", "int8", "--calibration", str(isic2018),
                 "--calibration-images", "3", "--check", "--min-agreement", "1.0"])
    said = capsys.readouterr()
    assert code == 1 and "FAILED (least 1)" in said.out
    assert (tmp_path / "best_int8.check-failed.onnx").is_file()
    assert not (tmp_path / "best_int8.onnx").exists()


def test_cli_refuses_a_folder_with_none_of_the_training_ids(
        isic2018: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    weights = _run_folder(tmp_path, ["ISIC_0000000_not_here"])
    assert main(["export", str(weights), "--quantize", "int8", "--calibration", str(isic2018),
                 "--out", str(tmp_path / "q.onnx")]) == 2
    assert "is among the training ids" in capsys.readouterr().err
    assert not (tmp_path / "q.onnx").exists()


def test_cli_skips_unreadable_calibration_images_and_warns_when_ids_are_unchecked(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = tmp_path / "photos"
    folder.mkdir()
    for seed in range(2):
        Image.fromarray(draw_lesion((96, 128), seed=seed)[0]).save(folder / f"lesion_{seed}.png")
    (folder / "broken.jpg").write_bytes(b"not a jpeg")
    weights = tmp_path / "w" / "mobilegan.safetensors"  # no ids beside it
    weights.parent.mkdir()
    shutil.copy(shipped_weights(), weights)
    shutil.copy(shipped_weights().with_suffix(".json"), weights.with_suffix(".json"))
    out = tmp_path / "q.onnx"
    assert main(["export", str(weights), "--quantize", "int8", "--calibration", str(folder),
                 "--out", str(out)]) == 0
    err = capsys.readouterr().err
    assert "broken.jpg" in err and "make sure" in err
    record = read_quantization(out)
    assert record is not None and record.calibration_images == 2


def test_cli_refuses_an_official_test_set_when_no_ids_can_be_checked(
        isic2017: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Weights without their splits.json cannot say which ids they trained on; a folder of
    the ISIC 2017 test set is still known by its name, and never calibrates."""
    weights = tmp_path / "w" / "mobilegan.safetensors"  # no ids beside it
    weights.parent.mkdir()
    shutil.copy(shipped_weights(), weights)
    shutil.copy(shipped_weights().with_suffix(".json"), weights.with_suffix(".json"))
    test_folder = next(isic2017.glob("ISIC-2017_Test_v2_Data"))
    for folder in (test_folder, isic2017):  # the test folder itself, or the layout above it
        code = main(["export", str(weights), "--quantize", "int8", "--calibration", str(folder),
                     "--calibration-split", "all", "--out", str(tmp_path / "q.onnx")])
        assert code == 2, folder
        assert "holds images of the ISIC 2017 test set" in capsys.readouterr().err
        assert not list(tmp_path.glob("q*.onnx"))


def test_cli_shrinks_large_calibration_images_on_reading(tmp_path: Path) -> None:
    from mobilegan.cli.export_cmd import _readable
    from mobilegan.data.layouts import Sample

    path = tmp_path / "big.png"
    Image.fromarray(draw_lesion((1200, 1600), seed=3)[0]).save(path)
    images, used, problems = _readable([Sample("big", path, None)], 1, size=128)
    assert used and not problems and images[0].shape == (384, 512, 3)  # aspect kept
