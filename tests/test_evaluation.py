"""``mobilegan evaluate``: scoring at the ground truth's resolution, bad files skipped and
listed, leaks labelled. One tiny real run (64x64, 2 steps) serves the whole session."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from mobilegan.cli.main import main
from mobilegan.data.io import read_mask
from mobilegan.evaluation.evaluate import evaluate, predict_probabilities
from mobilegan.evaluation.source import experiment_name, resolve_source
from mobilegan.metrics.isic import image_metrics, resize_to

#: ISIC 2017 test ids: never in a leak-free run's training set.
TEST_IDS = ("ISIC_0012086", "ISIC_0012092", "ISIC_0012095")


def make_tiny_run(base: Path, data_root: Path) -> Path:
    """A real (leak-free) run folder; trained once per session, reused when present."""
    out = base / "tiny_run"
    if (out / "best.safetensors").is_file():
        return out
    from mobilegan.config import RunConfig
    from mobilegan.training.trainer import train

    cfg = RunConfig()
    cfg.data.train_dir = str(data_root / "isic2018")
    cfg.data.eval_dir = str(data_root / "isic2017")
    cfg.data.limit, cfg.data.val_limit, cfg.data.image_size = 8, 4, 64
    cfg.train.max_steps, cfg.train.epochs, cfg.train.batch_size = 2, 1, 4
    cfg.train.progress, cfg.train.num_threads = False, 1
    cfg.out_dir = str(out)
    train(cfg)
    return out


def pair_folder(root: Path, isic: Path, ids: list[str], split_dirs: tuple[str, str]) -> Path:
    """images/ + masks/ holding copies of real pairs (in tmp, never in the repo)."""
    (root / "images").mkdir(parents=True, exist_ok=True)
    (root / "masks").mkdir(parents=True, exist_ok=True)
    for i in ids:
        shutil.copy(isic / split_dirs[0] / f"{i}.jpg", root / "images" / f"{i}.jpg")
        shutil.copy(isic / split_dirs[1] / f"{i}_segmentation.png",
                    root / "masks" / f"{i}_segmentation.png")
    return root


ISIC2017_TEST_DIRS = ("ISIC-2017_Test_v2_Data", "ISIC-2017_Test_v2_Part1_GroundTruth")


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory: pytest.TempPathFactory, data_root: Path) -> Path:
    return make_tiny_run(tmp_path_factory.getbasetemp(), data_root)


def test_scores_at_the_ground_truths_resolution(tiny_run: Path, isic2017: Path,
                                                tmp_path: Path) -> None:
    data = pair_folder(tmp_path / "data", isic2017, [TEST_IDS[0]], ISIC2017_TEST_DIRS)
    image_path = data / "images" / f"{TEST_IDS[0]}.jpg"
    mask_path = data / "masks" / f"{TEST_IDS[0]}_segmentation.png"
    Image.open(image_path).resize((301, 217), Image.Resampling.BILINEAR).save(image_path)
    Image.open(mask_path).convert("L").resize((301, 217), Image.Resampling.NEAREST).save(mask_path)

    result = evaluate(tiny_run, data, split="all", out_dir=tmp_path / "out", progress=False)

    [row] = result.rows
    assert (row["width"], row["height"]) == (301, 217)
    # Independently: the network at 64x64, its probability map back at 217x301, thresholded.
    from mobilegan.models.io import load_model

    model, _ = load_model(tiny_run / "best.safetensors")
    small = np.asarray(Image.open(image_path).convert("RGB").resize((64, 64), Image.Resampling.BILINEAR))
    x = torch.from_numpy(small.transpose(2, 0, 1)[None].copy()).float() / 127.5 - 1.0
    with torch.no_grad():
        probability = torch.sigmoid(model(x))[0, 0].numpy()
    truth, _ = read_mask(mask_path)
    expected = image_metrics(resize_to(probability, (217, 301), method="bilinear"), truth)
    for key, value in expected.items():
        assert row[key] == pytest.approx(value, abs=1e-9), key
    with (tmp_path / "out" / "per_image.csv").open() as handle:
        [written] = list(csv.DictReader(handle))
    assert float(written["JAC"]) == pytest.approx(expected["JAC"], abs=1e-6)
    assert written["width"] == "301" and written["height"] == "217"
    # images/ + masks/ has no splits of its own: the default split (test) is all of it.
    default = evaluate(tiny_run, data, out_dir=tmp_path / "default", progress=False)
    assert [r["JAC"] for r in default.rows] == [row["JAC"]]

    # --postprocess scores what `mobilegan segment` writes: largest component, holes filled.
    from mobilegan.inference.postprocess import clean_mask

    cleaned = evaluate(tiny_run, data, split="all", out_dir=tmp_path / "clean", progress=False,
                       postprocess=True)
    raw_mask = resize_to(probability, (217, 301), method="bilinear").astype(bool)
    expected = image_metrics(clean_mask(raw_mask), truth)
    for key, value in expected.items():
        assert cleaned.rows[0][key] == pytest.approx(value, abs=1e-9), key
    assert cleaned.summary["postprocess"] and "--postprocess" in cleaned.summary["command"]


def test_a_ph2_folder_is_scored_like_an_isic_one(tiny_run: Path, isic2017: Path,
                                                  tmp_path: Path) -> None:
    """Another source's layout and formats (PH2: BMP images at 768x560, 1-bit BMP masks in
    per-image folders), built here from ISIC pairs: the same scores as the ISIC layout."""
    isic = pair_folder(tmp_path / "isic", isic2017, list(TEST_IDS[:2]), ISIC2017_TEST_DIRS)
    ph2 = tmp_path / "PH2Dataset" / "PH2 Dataset images"
    for n, isic_id in enumerate(TEST_IDS[:2]):
        case = f"IMD{n:03d}"
        image = Image.open(isic / "images" / f"{isic_id}.jpg").resize((768, 560), Image.Resampling.BILINEAR)
        mask = Image.open(isic / "masks" / f"{isic_id}_segmentation.png").convert("L").resize(
            (768, 560), Image.Resampling.NEAREST)
        (ph2 / case / f"{case}_Dermoscopic_Image").mkdir(parents=True)
        (ph2 / case / f"{case}_lesion").mkdir(parents=True)
        image.save(ph2 / case / f"{case}_Dermoscopic_Image" / f"{case}.bmp")
        mask.convert("1").save(ph2 / case / f"{case}_lesion" / f"{case}_lesion.bmp")
        image.save(isic / "images" / f"{isic_id}.jpg", quality=100)
        image.save(isic / "images" / f"{isic_id}.png")
        (isic / "images" / f"{isic_id}.jpg").unlink()
        mask.save(isic / "masks" / f"{isic_id}_segmentation.png")

    from_ph2 = evaluate(tiny_run, tmp_path / "PH2Dataset", split="all", out_dir=tmp_path / "o1", progress=False)
    from_isic = evaluate(tiny_run, isic, split="all", out_dir=tmp_path / "o2", progress=False)

    assert [r["id"] for r in from_ph2.rows] == ["IMD000", "IMD001"]
    assert not from_ph2.summary["skipped"]
    for ph2_row, isic_row in zip(from_ph2.rows, from_isic.rows):
        assert (ph2_row["width"], ph2_row["height"]) == (768, 560)
        assert ph2_row["JAC"] == pytest.approx(isic_row["JAC"], abs=1e-9)


def test_corrupt_and_mismatched_files_are_skipped_and_listed(tiny_run: Path, isic2017: Path,
                                                              tmp_path: Path) -> None:
    data = pair_folder(tmp_path / "data", isic2017, list(TEST_IDS), ISIC2017_TEST_DIRS)
    (data / "images" / "ISIC_9999998.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    shutil.copy(data / "masks" / f"{TEST_IDS[0]}_segmentation.png",
                data / "masks" / "ISIC_9999998_segmentation.png")
    shutil.copy(data / "images" / f"{TEST_IDS[1]}.jpg", data / "images" / "ISIC_9999999.jpg")
    Image.new("L", (40, 30), 255).save(data / "masks" / "ISIC_9999999_segmentation.png")

    code = main(["evaluate", str(tiny_run), str(data), "--split", "all", "--out",
                 str(tmp_path / "out"), "--no-progress", "--batch-size", "2"])

    assert code == 0
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["n"] == 3 and summary["dataset"]["n_samples"] == 5
    skipped = {s["id"]: s for s in summary["skipped"]}
    assert set(skipped) == {"ISIC_9999998", "ISIC_9999999"}
    assert skipped["ISIC_9999999"]["kind"] == "size_mismatch"
    assert skipped["ISIC_9999998"]["kind"] in ("unreadable", "truncated")
    markdown = (tmp_path / "out" / "summary.md").read_text()
    assert "ISIC_9999998" in markdown and "ISIC_9999999" in markdown
    assert summary["leak"] is False and summary["overlap"] == {
        "known": True, "train": 0, "val": 0, "train_examples": []}
    assert summary["by_seen_in"] == {} and "By where the model saw" not in markdown
    assert "mobilegan evaluate" in summary["command"]


def test_training_ids_put_a_leak_label_on_every_output(tiny_run: Path, isic2018: Path,
                                                       tmp_path: Path) -> None:
    splits = json.loads((tiny_run / "splits.json").read_text())
    ids = splits["train"][:2] + splits["val"][:1]
    data = pair_folder(tmp_path / "data", isic2018, ids,
                       ("ISIC2018_Task1-2_Training_Input", "ISIC2018_Task1_Training_GroundTruth"))

    result = evaluate(tiny_run, data, split="all", out_dir=tmp_path / "out", progress=False,
                      figures=True)

    summary = result.summary
    assert summary["leak"] is True
    assert summary["leak_label"].startswith("LEAK: 2 of the 3")
    assert summary["overlap"]["train"] == 2 and summary["overlap"]["val"] == 1
    assert "LEAK" in (tmp_path / "out" / "summary.md").read_text()
    seen = {row["id"]: row["seen_in"] for row in result.rows}
    assert seen == {ids[0]: "train", ids[1]: "train", ids[2]: "val"}
    assert json.loads((tmp_path / "out" / "summary.json").read_text())["leak"] is True
    # The leaky score taken apart: each group's mean is over its own images only.
    groups = summary["by_seen_in"]
    assert {g: v["n"] for g, v in groups.items()} == {"train": 2, "val": 1}
    jac = {row["id"]: row["JAC"] for row in result.rows}
    assert groups["train"]["mean"]["JAC"] == pytest.approx((jac[ids[0]] + jac[ids[1]]) / 2)
    assert groups["val"]["mean"]["JAC"] == pytest.approx(jac[ids[2]])
    markdown = (tmp_path / "out" / "summary.md").read_text()
    assert "| in training (LEAK) | 2 |" in markdown
    assert "| in validation | 1 |" in markdown and "never seen" not in markdown


def test_the_terminal_gives_a_leaky_score_by_group(tiny_run: Path, isic2018: Path,
                                                   tmp_path: Path, capsys) -> None:
    splits = json.loads((tiny_run / "splits.json").read_text())
    data = pair_folder(tmp_path / "data", isic2018, splits["train"][:1] + splits["val"][:2],
                       ("ISIC2018_Task1-2_Training_Input", "ISIC2018_Task1_Training_GroundTruth"))

    assert main(["evaluate", str(tiny_run), str(data), "--split", "all", "--out",
                 str(tmp_path / "out"), "--no-progress"]) == 0

    printed = capsys.readouterr().out
    groups = json.loads((tmp_path / "out" / "summary.json").read_text())["by_seen_in"]
    assert printed.startswith("LEAK: 1 of the 3")
    assert (f"JAC by where the model met the image: in training "
            f"{100 * groups['train']['mean']['JAC']:.2f} (1), in validation "
            f"{100 * groups['val']['mean']['JAC']:.2f} (2)") in printed


def test_bare_weights_cannot_vouch_for_their_training_ids(tiny_run: Path, isic2017: Path,
                                                          tmp_path: Path) -> None:
    shutil.copy(tiny_run / "best.safetensors", tmp_path / "model.safetensors")
    shutil.copy(tiny_run / "best.json", tmp_path / "model.json")
    source = resolve_source(tmp_path / "model.safetensors")
    assert source.run_dir is None and source.metadata["image_size"] == 64

    result = evaluate(tmp_path / "model.safetensors", isic2017, split="test", limit=2,
                      progress=False, tta=True)

    assert result.out_dir == tmp_path / "eval" / "model_isic2017_test"
    assert result.summary["overlap"]["known"] is False
    assert result.summary["leak_label"].startswith("UNVERIFIED")
    assert result.summary["tta"] is True and result.summary["n"] == 2


def test_tta_maps_a_mirrored_image_to_the_mirrored_map(tiny_run: Path) -> None:
    from mobilegan.models.io import load_model

    model, _ = load_model(tiny_run / "best.safetensors")
    image = np.random.default_rng(0).integers(0, 256, (50, 70, 3), dtype=np.uint8)
    maps = predict_probabilities(model, [image, image[:, ::-1].copy()], 64, tta=True)
    assert maps.shape == (2, 64, 64)
    np.testing.assert_allclose(maps[1], maps[0][:, ::-1], atol=1e-5)


def test_heldout_split_scores_the_runs_validation_ids(tiny_run: Path, isic2018: Path,
                                                      tmp_path: Path) -> None:
    result = evaluate(tiny_run, isic2018, split="heldout", out_dir=tmp_path / "out",
                      progress=False)
    splits = json.loads((tiny_run / "splits.json").read_text())
    assert sorted(row["id"] for row in result.rows) == sorted(splits["val"])
    assert result.summary["dataset"]["kind"] == "heldout"
    assert result.summary["leak"] is False and result.summary["selection_note"]
    assert result.summary["by_seen_in"] == {}  # all of them chose the epoch: one group


def test_a_folder_with_some_held_out_ids_says_the_score_is_partial(
        tiny_run: Path, isic2018: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Held-out ids missing from the folder were neither scored nor said: "2 of 2" read as
    the whole held-out set. They are listed, and every output says partial."""
    from mobilegan.evaluation.report import partial_words

    splits = json.loads((tiny_run / "splits.json").read_text())
    data = pair_folder(tmp_path / "data", isic2018, splits["val"][:1],
                       ("ISIC2018_Task1-2_Training_Input", "ISIC2018_Task1_Training_GroundTruth"))
    assert main(["evaluate", str(tiny_run), str(data), "--split", "heldout", "--out",
                 str(tmp_path / "out"), "--no-progress"]) == 0
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    missing = len(splits["val"]) - 1
    assert summary["n"] == 1
    assert [s["id"] for s in summary["skipped"]] == sorted(splits["val"][1:])
    printed = capsys.readouterr().out
    assert f"Partial: {missing} of the run's {missing + 1} held-out ids" in printed
    assert f"held-out ids not in the folder ({missing})" in printed
    assert f"0 images skipped, {missing} held-out ids not in the folder" in printed
    assert "**Partial:" in (tmp_path / "out" / "summary.md").read_text()
    assert partial_words(summary) == f" (1 of {missing + 1} held-out images)"
    whole = evaluate(tiny_run, isic2018, split="heldout", out_dir=tmp_path / "whole",
                     progress=False).summary
    assert whole["skipped"] == [] and partial_words(whole) == ""


def test_a_trained_on_image_that_could_not_be_read_is_no_leak(tiny_run: Path, isic2018: Path,
                                                              isic2017: Path, tmp_path: Path) -> None:
    """The overlap was counted over the images found, before unreadable ones were skipped:
    a broken copy of a training image made the score of never-seen images a LEAK."""
    splits = json.loads((tiny_run / "splits.json").read_text())
    trained = splits["train"][0]
    data = pair_folder(tmp_path / "data", isic2018, [trained],
                       ("ISIC2018_Task1-2_Training_Input", "ISIC2018_Task1_Training_GroundTruth"))
    (data / "images" / f"{trained}.jpg").write_bytes(b"\xff\xd8\xff\xe0 cut off")
    pair_folder(data, isic2017, list(TEST_IDS[:2]), ISIC2017_TEST_DIRS)

    summary = evaluate(tiny_run, data, split="all", out_dir=tmp_path / "out",
                       progress=False).summary

    assert summary["n"] == 2 and [s["id"] for s in summary["skipped"]] == [trained]
    assert summary["leak"] is False and summary["overlap"]["train"] == 0


@pytest.mark.parametrize("args, message", [
    (["evaluate", "{tmp}/missing", "{data}"], "no run folder or weights file"),
    (["evaluate", "{tmp}", "{data}"], "without best.safetensors"),
    (["evaluate", "{run}", "{data}", "--split", "nope"], "split 'nope' not under"),
    (["evaluate", "{run}", "{tmp}/nodata"], "no dataset folder"),
    (["evaluate", "{run}", "{data}", "--threshold", "1.5"], "--threshold"),
    (["evaluate", "{run}", "{data}", "--perturb", "fog"], "--perturb: unknown 'fog'"),
    (["evaluate", "{run}", "{data}", "--limit", "0"], "--limit must be >= 1"),
    (["evaluate", "{run}", "{data}", "--limit", "-1"], "--limit must be >= 1"),
])
def test_bad_input_is_a_clear_error(args: list[str], message: str, tiny_run: Path,
                                    isic2017: Path, tmp_path: Path,
                                    capsys: pytest.CaptureFixture[str]) -> None:
    filled = [a.format(tmp=tmp_path, data=isic2017, run=tiny_run) for a in args]
    assert main(filled + ["--no-progress"]) == 2
    assert message in capsys.readouterr().err


def test_seed_suffix_is_dropped_from_the_experiment_name() -> None:
    assert experiment_name("unet_seed2") == "unet"
    assert experiment_name("mobilegan-s1") == "mobilegan"
    assert experiment_name("mobilegan") == "mobilegan"


def _drawn_pairs(root: Path, names: dict[str, str]) -> Path:
    """images/ + masks/ of drawn 48x40 pairs: {image file name: id of its mask}."""
    rng = np.random.default_rng(7)
    (root / "images").mkdir(parents=True, exist_ok=True)
    (root / "masks").mkdir(parents=True, exist_ok=True)
    for name, mask_id in names.items():
        Image.fromarray(rng.integers(0, 256, (40, 48, 3), dtype=np.uint8)).save(
            root / "images" / name)
        mask = np.zeros((40, 48), np.uint8)
        mask[8:30, 10:40] = 255
        Image.fromarray(mask).save(root / "masks" / f"{mask_id}_segmentation.png")
    return root


@pytest.fixture(scope="module")
def drawn_weights(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from tests.conftest import untrained_weights

    return untrained_weights(tmp_path_factory.mktemp("weights"), seed=1)


def test_a_duplicate_id_is_skipped_not_scored_twice(drawn_weights: Path, tmp_path: Path) -> None:
    """``ISIC_0000002.jpg`` beside ``ISIC_0000002.png``: both pair with the one mask; the
    second is listed as a duplicate (as ``mobilegan data validate`` does), not averaged in."""
    data = _drawn_pairs(tmp_path / "data", {"ISIC_0000001.jpg": "ISIC_0000001",
                                            "ISIC_0000002.jpg": "ISIC_0000002",
                                            "ISIC_0000002.png": "ISIC_0000002"})

    result = evaluate(drawn_weights, data, split="all", out_dir=tmp_path / "out",
                      progress=False, image_size=64, batch_size=2)

    assert [row["id"] for row in result.rows] == ["ISIC_0000001", "ISIC_0000002"]
    assert result.summary["n"] == 2 and result.summary["dataset"]["n_samples"] == 3
    [skipped] = result.summary["skipped"]
    assert skipped["kind"] == "duplicate_id" and skipped["path"].endswith("ISIC_0000002.png")
    with (tmp_path / "out" / "per_image.csv").open() as handle:
        assert [row["id"] for row in csv.DictReader(handle)] == ["ISIC_0000001", "ISIC_0000002"]


def test_a_skipped_pair_is_not_also_listed_as_a_warning(drawn_weights: Path,
                                                       tmp_path: Path) -> None:
    """An empty mask of the wrong size: the pair is skipped for the size; its emptiness,
    a warning about a mask that was never scored, is not listed beside it."""
    data = _drawn_pairs(tmp_path / "data", {"ISIC_0000001.jpg": "ISIC_0000001",
                                            "ISIC_0000002.jpg": "ISIC_0000002",
                                            "ISIC_0000003.jpg": "ISIC_0000003"})
    Image.fromarray(np.zeros((20, 24), np.uint8)).save(
        data / "masks" / "ISIC_0000002_segmentation.png")  # empty and half the size
    Image.fromarray(np.zeros((40, 48), np.uint8)).save(
        data / "masks" / "ISIC_0000003_segmentation.png")  # empty: scored, with a warning

    result = evaluate(drawn_weights, data, split="all", out_dir=tmp_path / "out",
                      progress=False, image_size=64, batch_size=2)

    assert [row["id"] for row in result.rows] == ["ISIC_0000001", "ISIC_0000003"]
    assert [(s["id"], s["kind"]) for s in result.summary["skipped"]] == [("ISIC_0000002", "size_mismatch")]
    assert [(w["id"], w["kind"]) for w in result.summary["warnings"]] == [("ISIC_0000003", "empty_mask")]


def test_an_image_skipped_for_two_reasons_is_one_skipped_image(drawn_weights: Path,
                                                               tmp_path: Path,
                                                               capsys: pytest.CaptureFixture[str]
                                                               ) -> None:
    """A corrupt file without a mask: one image skipped, both reasons given (it counted as
    "1 images skipped" beside two skip lines, or as two images)."""
    from mobilegan.cli.main import main

    data = _drawn_pairs(tmp_path / "data", {"ISIC_0000001.jpg": "ISIC_0000001",
                                            "ISIC_0000002.jpg": "ISIC_0000002"})
    (data / "masks" / "ISIC_0000002_segmentation.png").unlink()
    (data / "images" / "ISIC_0000002.jpg").write_bytes(b"not a picture")

    assert main(["evaluate", str(drawn_weights), str(data), "--out", str(tmp_path / "out"),
                 "--image-size", "64", "--no-progress"]) == 0
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    [skipped] = summary["skipped"]
    assert skipped["id"] == "ISIC_0000002" and skipped["reason"].count("; ") == 1
    printed = capsys.readouterr().out
    assert "1 images skipped" in printed and printed.count("  skipped ") == 1


def test_figures_draw_the_file_that_was_scored_and_the_perturbed_image(
        drawn_weights: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Of ``x.jpg`` and ``x.png`` (another picture) the first is scored, but cases.png drew
    the skipped second under the first's JAC; under --perturb it drew the clean image
    beneath masks predicted from the perturbed one."""
    from mobilegan.evaluation import figures
    from mobilegan.evaluation.perturb import perturb

    drawn: list = []
    titles: list = []
    plot_cases = figures.plot_cases

    def recording(cases, path, title=""):
        drawn.extend(cases)
        titles.append(title)
        return plot_cases(cases, path, title)

    monkeypatch.setattr(figures, "plot_cases", recording)
    data = _drawn_pairs(tmp_path / "data", {"ISIC_0000001.jpg": "ISIC_0000001",
                                            "ISIC_0000001.png": "ISIC_0000001"})
    jpeg = np.asarray(Image.open(data / "images" / "ISIC_0000001.jpg").convert("RGB"))
    evaluate(drawn_weights, data, split="all", out_dir=tmp_path / "dup", progress=False,
             image_size=64, figures=True)
    [case] = drawn
    assert np.array_equal(case.image, jpeg)
    drawn.clear()
    evaluate(drawn_weights, data, split="all", out_dir=tmp_path / "dark", progress=False,
             image_size=64, figures=True, perturb="dark")
    [case] = drawn
    assert np.array_equal(case.image, perturb("dark", jpeg, "ISIC_0000001"))
    assert not np.array_equal(case.image, jpeg) and "images perturbed: dark" in titles[-1]


def test_a_mask_without_its_image_is_listed_as_skipped(drawn_weights: Path,
                                                        tmp_path: Path) -> None:
    """A test image lost from the folder would otherwise shrink the test set silently."""
    data = _drawn_pairs(tmp_path / "data", {"ISIC_0000001.jpg": "ISIC_0000001",
                                            "ISIC_0000002.jpg": "ISIC_0000002"})
    (data / "images" / "ISIC_0000002.jpg").unlink()

    result = evaluate(drawn_weights, data, split="all", out_dir=tmp_path / "out",
                      progress=False, image_size=64)

    assert result.summary["n"] == 1
    [skipped] = result.summary["skipped"]
    assert skipped["id"] == "ISIC_0000002" and skipped["kind"] == "orphan_mask"
    text = (tmp_path / "out" / "summary.md").read_text()
    assert "ISIC_0000002_segmentation.png" in text
    # images scored + images skipped = images found; the lone mask is counted apart
    assert "images scored: 1 of 1 (0 images skipped, 1 masks without an image)" in text
    limited = evaluate(drawn_weights, data, split="all", out_dir=tmp_path / "limited",
                       progress=False, image_size=64, limit=1)
    assert limited.summary["skipped"] == []  # a partial run says so in its own note


def test_figures_draw_the_masks_that_were_scored(drawn_weights: Path, tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """With --postprocess each case's outline is the cleaned mask its JAC was computed on,
    not the raw thresholded map (here: a blob, a hole in it and a speck beside it)."""
    from mobilegan.evaluation import evaluate as evaluate_module
    from mobilegan.evaluation import figures

    def speckled(model, images, size, device="cpu", tta=False):
        maps = np.zeros((len(images), size, size), np.float32)
        maps[:, 12:50, 10:54] = 0.9
        maps[:, 28:32, 30:34] = 0.1  # a hole, filled by post-processing
        maps[:, 2:6, 2:6] = 0.9  # a speck, removed by it
        return maps

    monkeypatch.setattr(evaluate_module, "predict_probabilities", speckled)
    drawn: list = []
    plot_cases = figures.plot_cases
    monkeypatch.setattr(figures, "plot_cases",
                        lambda cases, *a, **k: drawn.extend(cases) or plot_cases(cases, *a, **k))
    data = _drawn_pairs(tmp_path / "data", {f"ISIC_000000{i}.jpg": f"ISIC_000000{i}"
                                            for i in range(3)})

    raw = evaluate(drawn_weights, data, split="all", out_dir=tmp_path / "raw", progress=False,
                   image_size=64)
    result = evaluate(drawn_weights, data, split="all", out_dir=tmp_path / "out",
                      progress=False, image_size=64, postprocess=True, figures=True)

    assert result.rows[0]["JAC"] > raw.rows[0]["JAC"]  # post-processing changed the score
    assert len(drawn) == 3 and (tmp_path / "out" / "cases.png").is_file()
    jac = {row["id"]: row["JAC"] for row in result.rows}
    for case in drawn:
        assert image_metrics(case.prediction, case.truth)["JAC"] == pytest.approx(
            jac[case.id], abs=1e-9), case.id


def test_a_limited_evaluation_says_it_is_partial(tmp_path: Path, isic2017: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    """--limit scores a few images: summary.md and the terminal say so (the set's size is
    recorded), so that nobody quotes it as the test set's score."""
    from mobilegan.cli.main import main
    from tests.conftest import untrained_weights

    weights = untrained_weights(tmp_path / "w")
    out = tmp_path / "e"
    assert main(["evaluate", str(weights), str(isic2017), "--limit", "2", "--image-size", "64",
                 "--out", str(out), "--no-progress"]) == 0
    assert "Partial: the first 2 of 600 images" in capsys.readouterr().out
    assert "**Partial: the first 2 of 600 images (--limit 2)" in (out / "summary.md").read_text()
    summary = json.loads((out / "summary.json").read_text())
    assert summary["dataset"]["n_available"] == 600 and summary["dataset"]["set"] == "ISIC 2017 test"


def test_a_folder_where_nothing_can_be_scored_leaves_no_output_folder(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from mobilegan.cli.main import main
    from tests.conftest import untrained_weights

    weights = untrained_weights(tmp_path / "w")
    data = tmp_path / "bad"
    (data / "images").mkdir(parents=True)
    (data / "masks").mkdir()
    (data / "images" / "a.jpg").write_bytes(b"not a jpeg")
    (data / "masks" / "a.png").write_bytes(b"not a png")
    out = tmp_path / "e"
    assert main(["evaluate", str(weights), str(data), "--split", "all", "--image-size", "64",
                 "--out", str(out), "--no-progress"]) == 2
    assert "could be scored" in capsys.readouterr().err and not out.exists()
    a_file = tmp_path / "notes.txt"
    a_file.write_text("keep")
    assert main(["evaluate", str(weights), str(data), "--split", "all", "--out", str(a_file),
                 "--no-progress"]) == 2
    assert "is a file, not a folder" in capsys.readouterr().err and a_file.read_text() == "keep"


def test_evaluate_scores_the_masks_the_segmenter_writes(isic2017: Path, tmp_path: Path) -> None:
    """Two code paths reach a mask (evaluate in torch, the Segmenter in numpy for both
    backends): with TTA, exposure normalisation and post-processing on in both, the shipped
    weights give each image the same score."""
    from mobilegan.inference.segmenter import Segmenter, shipped_weights
    from mobilegan.metrics.isic import confusion, metrics_from_confusion

    result = evaluate(shipped_weights(), isic2017, split="test", limit=6, tta=True,
                      postprocess=True, exposure=True, out_dir=tmp_path / "eval", progress=False,
                      device="cpu")
    segmenter = Segmenter.from_pretrained(tta=True)
    for row in result.rows:
        image = isic2017 / "ISIC-2017_Test_v2_Data" / f"{row['id']}.jpg"
        truth, _ = read_mask(isic2017 / "ISIC-2017_Test_v2_Part1_GroundTruth"
                             / f"{row['id']}_segmentation.png")
        mask = segmenter.predict(image).mask
        jac = metrics_from_confusion(*confusion(mask, truth))["JAC"]
        assert jac == pytest.approx(row["JAC"], abs=2e-3), row["id"]
    assert len(result.rows) == 6


def test_an_id_like_a_formula_stays_text_in_per_image_csv(drawn_weights: Path,
                                                          tmp_path: Path) -> None:
    from mobilegan.evaluation.evaluate import read_per_image

    data = _drawn_pairs(tmp_path / "data", {"=cmd.jpg": "=cmd", "läsion.jpg": "läsion"})
    evaluate(drawn_weights, data, split="all", out_dir=tmp_path / "out", progress=False,
             image_size=64)
    with (tmp_path / "out" / "per_image.csv").open(newline="", encoding="utf-8") as handle:
        ids = [row["id"] for row in csv.DictReader(handle)]
    assert sorted(ids) == ["'=cmd", "läsion"]
    assert sorted(r["id"] for r in read_per_image(tmp_path / "out" / "per_image.csv")) == [
        "=cmd", "läsion"]


def test_the_recorded_command_parses_back_to_the_same_options() -> None:
    """summary.json's command must repeat the evaluation: every option given comes back
    when the recorded line is parsed again."""
    import shlex

    from mobilegan.cli.eval_cmd import command_line
    from mobilegan.cli.main import build_parser

    parser = build_parser()
    given = ["evaluate", "runs/a b", "data/isic2017", "--split", "val", "--out", "o",
             "--image-size", "96", "--batch-size", "4", "--threshold", "0.4", "--tta",
             "--postprocess", "--normalize-exposure", "--limit", "7", "--figures",
             "--device", "cpu", "--name", "mine (v2)", "--perturb", "blur"]
    args = parser.parse_args(given)
    recorded = shlex.split(command_line(args))
    assert recorded[0] == "mobilegan"
    again = parser.parse_args(recorded[1:])
    assert {k: v for k, v in vars(again).items() if k != "func"} == \
        {k: v for k, v in vars(args).items() if k != "func"}


def test_a_mask_without_its_image_in_another_split_is_not_this_splits_skip(
        drawn_weights: Path, tmp_path: Path) -> None:
    """A folder with train/ and test/: a lone mask in train/ says nothing about the test
    split scored, and listed in its summary it would call a complete test set partial."""
    data = tmp_path / "data"
    _drawn_pairs(data / "train", {"ISIC_0000001.jpg": "ISIC_0000001",
                                  "ISIC_0000002.jpg": "ISIC_0000002"})
    (data / "train" / "images" / "ISIC_0000002.jpg").unlink()
    _drawn_pairs(data / "test", {"ISIC_0000003.jpg": "ISIC_0000003"})

    result = evaluate(drawn_weights, data, split="test", out_dir=tmp_path / "out",
                      progress=False, image_size=64)

    assert [row["id"] for row in result.rows] == ["ISIC_0000003"]
    assert result.summary["skipped"] == []
    # the train split's own evaluation does list it
    train = evaluate(drawn_weights, data, split="train", out_dir=tmp_path / "train",
                     progress=False, image_size=64)
    assert [(s["id"], s["kind"]) for s in train.summary["skipped"]] == [
        ("ISIC_0000002", "orphan_mask")]
