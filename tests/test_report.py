"""``mobilegan report``: real tiny runs evaluated, then gathered into RESULTS.md with the
protocol labels, the LEAK label, the quoted literature rows and relative figure links."""

from __future__ import annotations

import json
import re
from pathlib import Path
from urllib.parse import unquote

import pytest

from mobilegan.cli.main import main
from mobilegan.evaluation.evaluate import evaluate
from mobilegan.evaluation.report import build_report, group_summaries

try:  # tests/ is a package in this checkout; a plain rootdir import otherwise
    from tests.test_evaluation import make_tiny_run, pair_folder
except ImportError:  # pragma: no cover
    from test_evaluation import make_tiny_run, pair_folder  # type: ignore[no-redef]


def _sections(text: str) -> dict[str, str]:
    parts = re.split(r"^## ", text, flags=re.MULTILINE)
    return {part.split("\n", 1)[0]: part for part in parts[1:]}


def _section(sections: dict[str, str], prefix: str) -> str:
    [key] = [k for k in sections if k.startswith(prefix)]
    return sections[key]


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory: pytest.TempPathFactory, data_root: Path) -> Path:
    return make_tiny_run(tmp_path_factory.getbasetemp(), data_root)


@pytest.fixture(scope="session")
def paper_run(tmp_path_factory: pytest.TempPathFactory, data_root: Path) -> Path:
    """A run under the paper's protocol (ISIC 2017 test ids allowed in training)."""
    from mobilegan.config import RunConfig
    from mobilegan.training.trainer import train

    cfg = RunConfig()
    cfg.data.train_dir = str(data_root / "isic2018")
    cfg.data.eval_dir = str(data_root / "isic2017")
    cfg.data.exclude_eval_ids, cfg.data.allow_overlap = False, True
    cfg.data.limit, cfg.data.val_limit, cfg.data.image_size = 4, 2, 64
    cfg.train.max_steps, cfg.train.epochs, cfg.train.batch_size = 1, 1, 4
    cfg.train.progress, cfg.train.num_threads = False, 1
    cfg.out_dir = str(tmp_path_factory.getbasetemp() / "paper_seed0")
    train(cfg)
    return Path(cfg.out_dir)


@pytest.fixture(scope="module")
def results(tiny_run: Path, paper_run: Path, isic2017: Path, isic2018: Path,
            tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str, dict[str, Path]]:
    tmp = tmp_path_factory.mktemp("report")
    evals = {
        "leak_free": tmp / "tiny model (leak-free)",  # a name like the robustness folders
        "heldout": tmp / "heldout",
        "leaky": tmp / "leaky",
        "low_res": tmp / "low_res",
        "tta": tmp / "tta",
        "exposure": tmp / "exposure",
    }
    assert main(["evaluate", str(tiny_run), str(isic2017), "--limit", "3", "--figures",
                 "--out", str(evals["leak_free"]), "--no-progress"]) == 0
    assert main(["evaluate", str(tiny_run), str(isic2017), "--limit", "3", "--perturb",
                 "low_res", "--out", str(evals["low_res"]), "--no-progress"]) == 0
    evaluate(tiny_run, isic2018, split="heldout", out_dir=evals["heldout"], progress=False)
    evaluate(tiny_run, isic2017, limit=3, tta=True, out_dir=evals["tta"], progress=False)
    assert main(["evaluate", str(tiny_run), str(isic2017), "--limit", "3", "--normalize-exposure",
                 "--out", str(evals["exposure"]), "--no-progress"]) == 0
    splits = json.loads((tiny_run / "splits.json").read_text())
    leaky_data = pair_folder(tmp / "leaky_data", isic2018, splits["train"][:2],
                             ("ISIC2018_Task1-2_Training_Input",
                              "ISIC2018_Task1_Training_GroundTruth"))
    evaluate(tiny_run, leaky_data, split="all", out_dir=evals["leaky"], progress=False)
    evaluate(paper_run, isic2017, split="test", limit=3, progress=False, figures=True)
    # The paper-protocol run on images it trained on, chose its epoch on, and never saw.
    paper_splits = json.loads((paper_run / "splits.json").read_text())
    used = set(paper_splits["train"]) | set(paper_splits["val"])
    never = sorted(p.name.split("_segmentation")[0] for p in
                   (isic2018 / "ISIC2018_Task1_Training_GroundTruth").glob("*.png"))
    never = [i for i in never if i not in used][:2]
    paper_data = pair_folder(tmp / "paper_seen_data", isic2018,
                             paper_splits["train"][:2] + paper_splits["val"][:1] + never,
                             ("ISIC2018_Task1-2_Training_Input",
                              "ISIC2018_Task1_Training_GroundTruth"))
    # ... laid out as an ISIC 2017 test folder (as the 529 shared images are): Table 1 is
    # about that set alone.
    (paper_data / "images").rename(paper_data / "ISIC-2017_Test_v2_Data")
    (paper_data / "masks").rename(paper_data / "ISIC-2017_Test_v2_Part1_GroundTruth")
    evals["paper_seen"] = tmp / "paper_seen"
    evaluate(paper_run, paper_data, split="test", out_dir=evals["paper_seen"], progress=False)
    out = tmp / "results" / "RESULTS.md"
    preface = tmp / "preface.md"
    preface.write_text("> State: tiny test runs only.\n")
    assert main(["report", *map(str, evals.values()), str(paper_run), "--out", str(out),
                 "--preface", str(preface)]) == 0
    return out, out.read_text(), evals


def test_report_has_the_tables_and_protocol_labels(results: tuple[Path, str, dict[str, Path]]) -> None:
    _, text, _ = results
    assert text.split("\n## ")[0].count("> State: tiny test runs only.") == 1  # the preface
    sections = _sections(text)
    paper_table = _section(sections, "Table 1")
    # Seed suffix dropped from the name; a --limit evaluation says so.
    assert "| paper (first 3 images only) | paper (leaky) | 3 |" in paper_table
    assert "paper (leaky)" in paper_table and "77.98" in paper_table
    leak_free = _section(sections, "Table 2")
    assert "| tiny_run (first 3 images only) | leak-free | 3 |" in leak_free
    # the same weights with flip TTA are a row of their own, named so
    assert "| tiny_run + flip TTA (first 3 images only) | leak-free | 3 |" in leak_free
    assert "| tiny_run + exposure normalisation (first 3 images only) | leak-free | 3 |" in leak_free
    assert "LEAK" not in leak_free.split("|", 1)[1].replace("(leaky)", "")
    # The one leaky row there, the paper's quoted number, is said to be one.
    assert [line for line in leak_free.splitlines() if "(leaky)" in line] == [
        line for line in leak_free.splitlines() if line.startswith("| Sarker et al. 2019")]
    assert "quoted for reference: it was measured on the leaky protocol" in leak_free
    heldout = _section(sections, "Table 3")
    assert "78.40" in heldout and "| tiny_run | leak-free | 4 |" in heldout
    side = _section(sections, "Table 4")
    assert side.count("| tiny_run") == 5 and "| paper (first 3 images only) |" in side


def test_a_leaky_row_is_taken_apart_by_where_its_images_were_seen(
        results: tuple[Path, str, dict[str, Path]]) -> None:
    _, text, evals = results
    summary = json.loads((evals["paper_seen"] / "summary.json").read_text())
    groups = summary["by_seen_in"]
    assert {g: v["n"] for g, v in groups.items()} == {"train": 2, "val": 1, "unseen": 2}
    paper_table = _section(_sections(text), "Table 1")
    assert "| Model | in training (LEAK) | in validation | never seen | all |" in paper_table
    [row] = [line for line in paper_table.splitlines()
             if line.startswith("| paper **(LEAK)** | ") and "(2)" in line]
    cells = [c.strip() for c in row.strip("|").split("|")]
    assert cells[1] == f"{100 * groups['train']['mean']['JAC']:.2f} (2)"
    assert cells[2] == f"{100 * groups['val']['mean']['JAC']:.2f} (1)"
    assert cells[3] == f"{100 * groups['unseen']['mean']['JAC']:.2f} (2)"
    assert cells[4] == f"{100 * summary['mean']['JAC']:.2f}"
    # A paper-protocol row scored on test images it never met has nothing to take apart.
    assert not [line for line in paper_table.splitlines()
                if line.startswith("| paper (first 3 images only) | —")]


def test_perturbed_evaluations_sit_beside_their_clean_ones(
        results: tuple[Path, str, dict[str, Path]]) -> None:
    _, text, evals = results
    sections = _sections(text)
    for table in ("Table 1", "Table 2", "Table 4"):
        assert "low_res" not in _section(sections, table)
    robustness = _section(sections, "Table 6")
    [row] = [line for line in robustness.splitlines() if "`low_res`" in line]
    cells = [c.strip() for c in row.strip("|").split("|")]
    clean = json.loads((evals["leak_free"] / "summary.json").read_text())["mean"]["JAC"]
    perturbed = json.loads((evals["low_res"] / "summary.json").read_text())
    assert perturbed["perturbation"] == "low_res" and "--perturb low_res" in perturbed["command"]
    assert cells[4] == f"{100 * perturbed['mean']['JAC']:.2f}" and cells[5] == f"{100 * clean:.2f}"
    assert cells[6] == f"{100 * (perturbed['mean']['JAC'] - clean):+.2f}"


def test_overlapping_training_ids_are_labelled_leak(results: tuple[Path, str, dict[str, Path]]) -> None:
    _, text, evals = results
    side = _section(_sections(text), "Table 4")
    [leaky_row] = [line for line in side.splitlines() if "leaky_data" in line]
    assert "**(LEAK)**" in leaky_row
    provenance = _section(_sections(text), "Provenance")
    assert "LEAK: 2 of the 2 evaluated images were in the model's training set" in provenance
    assert json.loads((evals["leaky"] / "summary.json").read_text())["leak"] is True


def test_literature_rows_are_marked_quoted(results: tuple[Path, str, dict[str, Path]]) -> None:
    _, text, _ = results
    literature = _section(_sections(text), "Table 5")
    assert "quoted from Sarker et al. 2019, not reproduced" in literature
    assert "| MobileGAN (paper) | 97.61 | 87.63 | 77.98 | 78.50 | 99.92 | 2.35 |" in literature
    assert "| tiny_run (first 3 images only) (this repository) |" in literature
    assert "reproduced here" in literature
    for name in ("FrCN", "SLSDeep", "SegAN"):
        assert name in literature  # named as not transcribed, never with invented numbers
    # A number quoted from a method's own paper says so, and leaves what it lacks empty.
    assert "| FrCN (from its own paper) | — | — | 77.11 | — | — | — | ISBI 2017 test |" in literature
    assert "quoted from Al-masni et al. 2018, not reproduced" in literature


def test_every_row_has_provenance_and_figure_links_resolve(
        results: tuple[Path, str, dict[str, Path]]) -> None:
    out, text, _ = results
    provenance = _section(_sections(text), "Provenance")
    assert provenance.count("command (in `") == 8
    assert provenance.count("`mobilegan evaluate ") == 8  # library calls record theirs too
    assert provenance.count(" --tta") == 1 and provenance.count(" --normalize-exposure") == 1
    assert provenance.count("images perturbed by `low_res`") == 1
    assert "--split heldout" in provenance and "--limit 3 --figures" in provenance
    assert "train ids sha256 `" in provenance and "scored on " in provenance
    # how long and how far the run trained comes from its train_result.json
    assert "trained 1.0 epochs on cpu: " in provenance and "best epoch 1" in provenance
    links = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", text)
    assert len(links) == 4 and all(not Path(link).is_absolute() for link in links)  # histograms, curves; never cases
    summaries = re.findall(r"summary \[[^\]]*\]\(([^)]+)\)", provenance)
    assert len(summaries) == 8
    for link in links + summaries:  # targets hold no bare spaces or parentheses
        assert not set(" ()") & set(link), link
        assert (out.parent / unquote(link)).is_file(), link


def test_seeds_of_one_experiment_are_mean_and_std(results: tuple[Path, str, dict[str, Path]],
                                                   tmp_path: Path) -> None:
    _, _, evals = results
    base = json.loads((evals["leak_free"] / "summary.json").read_text())
    for seed, jac in ((0, 0.70), (1, 0.80), (2, 0.90)):
        folder = tmp_path / f"mobilegan_seed{seed}"
        folder.mkdir()
        summary = {**base, "seed": seed, "run_name": folder.name, "name": "mobilegan",
                   "mean": {**base["mean"], "JAC": jac}, "figures": {}}
        (folder / "summary.json").write_text(json.dumps(summary))
    # The seed-1 weights scored again into another folder: a repeat, not a fourth seed.
    (tmp_path / "repeat").mkdir()
    (tmp_path / "repeat" / "summary.json").write_text(
        (tmp_path / "mobilegan_seed1" / "summary.json").read_text())
    # ... and the same config and seed from another path to its weights (a copy, or the
    # run trained again): the same experiment, not another seed.
    copy = {**json.loads((tmp_path / "mobilegan_seed2" / "summary.json").read_text()),
            "weights": str(tmp_path / "elsewhere" / "best.safetensors"),
            "mean": {**base["mean"], "JAC": 0.10}}
    (tmp_path / "z_copy").mkdir()
    (tmp_path / "z_copy" / "summary.json").write_text(json.dumps(copy))
    text = build_report([tmp_path], tmp_path / "RESULTS.md")
    leak_free = _section(_sections(text), "Table 2")
    [row] = [line for line in leak_free.splitlines() if line.startswith("| mobilegan")]
    assert "| 80.00 ± 10.00 |" in row and "| 0, 1, 2 |" in row
    from mobilegan.evaluation.report import find_summaries

    assert len(group_summaries(find_summaries([tmp_path]))) == 1


def test_one_leaky_seed_makes_the_experiment_leaky(results: tuple[Path, str, dict[str, Path]],
                                                   tmp_path: Path) -> None:
    """Seeds are averaged into one row: if any seed trained on test images, the row is not
    leak-free (it leaves Table 2) and carries the LEAK label."""
    from mobilegan.evaluation.report import find_summaries

    _, _, evals = results
    base = json.loads((evals["leak_free"] / "summary.json").read_text())
    for seed, leak in ((0, False), (1, True)):
        folder = tmp_path / f"mobilegan_seed{seed}"
        folder.mkdir()
        (folder / "summary.json").write_text(json.dumps(
            {**base, "seed": seed, "run_name": folder.name, "name": "mobilegan", "leak": leak,
             "figures": {}}))
    [group] = group_summaries(find_summaries([tmp_path]))
    assert group.leak and len(group.summaries) == 2
    text = build_report([tmp_path], tmp_path / "RESULTS.md")
    assert not [line for line in _section(_sections(text), "Table 2").splitlines()
                if line.startswith("| mobilegan")]
    rows = [line for line in text.splitlines() if line.startswith("| mobilegan")]
    assert rows and all("**(LEAK)**" in row.split("|")[1] for row in rows)


def test_report_refuses_folders_without_summaries(tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["report", str(tmp_path), "--out", str(tmp_path / "R.md")]) == 2
    assert "no summary.json" in capsys.readouterr().err


def test_report_names_a_file_that_is_not_a_summary(tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    picture = tmp_path / "lesion.jpg"
    picture.write_bytes(b"\xff\xd8\xff\xe0 not text")
    assert main(["report", str(picture), "--out", str(tmp_path / "R.md")]) == 2
    err = capsys.readouterr().err
    assert "lesion.jpg: not an evaluation summary" in err and "Traceback" not in err


def test_a_figure_missing_on_disk_is_named_not_linked(results: tuple[Path, str, dict[str, Path]]) -> None:
    out, _, evals = results
    histogram = evals["leak_free"] / "jac_histogram.png"
    kept = histogram.read_bytes()
    histogram.unlink()
    try:
        text = build_report([*map(str, evals.values())], out)
    finally:
        histogram.write_bytes(kept)
    assert "jac_histogram: written by the command, not kept here*" in text
    assert f"{evals['leak_free'].name}/jac_histogram.png" not in text


def test_case_figures_are_never_linked_even_when_on_disk(
        results: tuple[Path, str, dict[str, Path]]) -> None:
    """The case figures draw ISIC images, which are never committed: a report written where
    a copy lies on disk linked it, and every clone showed a broken image (RESULTS.md, v6)."""
    out, _, evals = results
    assert (evals["leak_free"] / "cases.png").is_file()
    text = build_report([*map(str, evals.values())], out)
    assert "cases: written by the command, not kept here (it shows the dataset's images)" in text
    assert "cases.png" not in text and "jac_histogram.png" in text


def test_exposure_normalisation_is_recorded_and_repeatable(
        results: tuple[Path, str, dict[str, Path]]) -> None:
    _, _, evals = results
    summary = json.loads((evals["exposure"] / "summary.json").read_text())
    plain = json.loads((evals["leak_free"] / "summary.json").read_text())
    assert summary["exposure_normalized"] is True and plain["exposure_normalized"] is False
    assert "--normalize-exposure" in summary["command"] and "--normalize-exposure" not in plain["command"]
    assert "exposure normalisation on" in (evals["exposure"] / "summary.md").read_text()


def test_provenance_says_when_a_run_was_resumed() -> None:
    from mobilegan.evaluation.report import _trained

    straight = {"epochs_trained": 2.0, "card": "cpu", "wall_s": 10.0, "best_epoch": 2}
    assert "resumed" not in _trained(straight)
    resumed = {**straight, "resumed_at_step": 40, "wall_s_note": "counts this invocation only"}
    line = _trained(resumed)
    assert "in 10.0 s, resumed at step 40 (counts this invocation only), best epoch 2" in line


def test_seeds_saved_before_a_config_field_existed_share_a_fingerprint() -> None:
    """A run saved by an older version lacks later fields (they then behaved as their
    default): it must group with a new seed of the same recipe, and nothing else."""
    from mobilegan.config import RunConfig
    from mobilegan.evaluation.source import config_fingerprint

    new = RunConfig().to_dict()
    old = json.loads(json.dumps(new))
    del old["loss"]["bce"], old["data"]["exclude_train_ids"]
    old["train"]["seed"], old["data"]["seed"], old["out_dir"] = 1, 3, "runs/elsewhere"
    assert config_fingerprint(old) == config_fingerprint(new)
    changed = json.loads(json.dumps(new))
    changed["loss"]["bce"] = 0.5
    assert config_fingerprint(changed) != config_fingerprint(new)
    changed_old = json.loads(json.dumps(old))
    changed_old["train"]["epochs"] = 30
    assert config_fingerprint(changed_old) != config_fingerprint(old)
    # A newer version's field this one does not know: hashed as saved, not an error.
    future = {**new, "loss": {**new["loss"], "focal": 1.0}}
    assert config_fingerprint(future) not in (None, config_fingerprint(new))


def test_images_that_chose_the_epoch_are_not_a_leak_free_test(tmp_path: Path) -> None:
    """Table 2 says no image was seen in training or model selection: an evaluation on the
    run's validation ids (kind "test" when not run as --split heldout) stays out of it."""
    import numpy as np
    from PIL import Image

    from tests.conftest import untrained_weights

    weights = untrained_weights(tmp_path / "weights")
    data = tmp_path / "data"
    (data / "images").mkdir(parents=True)
    (data / "masks").mkdir()
    for i in range(2):
        Image.fromarray(np.full((40, 48, 3), 90 + 40 * i, np.uint8)).save(
            data / "images" / f"ISIC_000000{i}.jpg")
        mask = np.zeros((40, 48), np.uint8)
        mask[10:30, 10:40] = 255
        Image.fromarray(mask).save(data / "masks" / f"ISIC_000000{i}_segmentation.png")
    base = evaluate(weights, data, split="all", out_dir=tmp_path / "eval", progress=False,
                    image_size=64).summary
    for name, val in (("clean", 0), ("selected", 2)):
        folder = tmp_path / "summaries" / name
        folder.mkdir(parents=True)
        summary = {**base, "name": name, "protocol": "leak-free", "weights": name,
                   "dataset": {**base["dataset"], "set": "ISIC 2017 test"},
                   "overlap": {"known": True, "train": 0, "val": val, "train_examples": []}}
        (folder / "summary.json").write_text(json.dumps(summary))

    sections = _sections(build_report([tmp_path / "summaries"], tmp_path / "RESULTS.md"))

    leak_free = _section(sections, "Table 2")
    assert "| clean | leak-free |" in leak_free and "| selected |" not in leak_free
    assert "| selected |" in _section(sections, "Table 4")


def test_only_the_isic_2017_test_set_enters_the_test_tables(tmp_path: Path) -> None:
    """Tables 1, 2 and 5 are about ISIC 2017 test: a user's own folder (or ISIC 2017
    validation) scored with leak-free weights stays out of them, in Table 4 only."""
    import numpy as np
    from PIL import Image

    from mobilegan.evaluation.report import is_isic2017_test
    from tests.conftest import untrained_weights

    weights = untrained_weights(tmp_path / "weights")
    data = tmp_path / "clinic"
    (data / "images").mkdir(parents=True)
    (data / "masks").mkdir()
    Image.fromarray(np.full((40, 48, 3), 120, np.uint8)).save(data / "images" / "m1.jpg")
    mask = np.zeros((40, 48), np.uint8)
    mask[10:30, 10:40] = 255
    Image.fromarray(mask).save(data / "masks" / "m1.png")
    base = evaluate(weights, data, split="all", out_dir=tmp_path / "eval", progress=False,
                    image_size=64).summary
    assert base["dataset"]["set"] is None and not is_isic2017_test(base)
    for name, official in (("own", None), ("official", "ISIC 2017 test")):
        folder = tmp_path / "s" / name
        folder.mkdir(parents=True)
        summary = {**base, "name": name, "protocol": "leak-free", "weights": name,
                   "dataset": {**base["dataset"], "set": official},
                   "overlap": {"known": True, "train": 0, "val": 0, "train_examples": []}}
        (folder / "summary.json").write_text(json.dumps(summary))
    sections = _sections(build_report([tmp_path / "s"], tmp_path / "RESULTS.md"))
    assert "| official | leak-free |" in _section(sections, "Table 2")
    for table in ("Table 1", "Table 2", "Table 5"):
        assert "| own " not in _section(sections, table)
    assert "| own " in _section(sections, "Table 4")
    # summaries written before the set was recorded: known by folder name and split
    assert is_isic2017_test({"dataset": {"name": "isic2017", "split": "test"}})
    assert not is_isic2017_test({"dataset": {"name": "my_clinic", "split": "test"}})


def test_runs_on_another_data_split_or_threshold_are_kept_and_told_apart(
        results: tuple[Path, str, dict[str, Path]], tmp_path: Path) -> None:
    """A run with ``data.seed=5`` (other training ids) and training seed 0 was dropped as a
    repeat of seed 0; a 0.3-threshold evaluation and a GAN-free run carried the label of
    the default ones."""
    _, _, evals = results
    base = json.loads((evals["leak_free"] / "summary.json").read_text())
    rows = (("a", {"seed": 0, "data_seed": 0, "train_ids_sha256": "a" * 64}),
            ("b", {"seed": 0, "data_seed": 5, "train_ids_sha256": "b" * 64}),
            ("c", {"seed": 0, "data_seed": 0, "train_ids_sha256": "a" * 64, "threshold": 0.3}),
            ("d", {"seed": 0, "data_seed": 0, "train_ids_sha256": "a" * 64, "adversarial": False,
                   "name": "nogan"}))
    for folder, changes in rows:
        (tmp_path / folder).mkdir()
        summary = {"name": "mobilegan", **base, "figures": {}, "weights": folder, **changes}
        summary["name"] = changes.get("name", "mobilegan")
        (tmp_path / folder / "summary.json").write_text(json.dumps(summary))
    sections = _sections(build_report([tmp_path], tmp_path / "RESULTS.md"))
    table2 = _section(sections, "Table 2")
    assert "| 0/data 0, 0/data 5 |" in table2
    assert "| mobilegan (threshold 0.3) (first" in table2
    assert any(line.startswith("| nogan (first") and "| no GAN |" in line
               for line in _section(sections, "Table 4").splitlines())


def test_another_runtime_or_another_image_set_is_another_row(
        results: tuple[Path, str, dict[str, Path]], tmp_path: Path) -> None:
    """A weights file and its int8 twin scored under one name, and one weights file scored
    on two folders both called isic2017 holding other images: each pair was one row, the
    second summary dropped as a repeat of the first without a word."""
    _, _, evals = results
    base = json.loads((evals["leak_free"] / "summary.json").read_text())
    dataset = base["dataset"]
    rows = (("torch", {"runtime": "torch"}),
            ("int8", {"runtime": "onnxruntime int8"}),
            ("other_images", {"runtime": "torch", "n": base["n"] + 5,
                              "dataset": {**dataset, "n_available": dataset["n_available"] + 5,
                                          "ids_sha256": "f" * 64}}))
    for folder, changes in rows:
        (tmp_path / folder).mkdir()
        summary = {**base, "name": "run6", "figures": {}, "weights": "run6", **changes}
        (tmp_path / folder / "summary.json").write_text(json.dumps(summary))
    table2 = _section(_sections(build_report([tmp_path], tmp_path / "RESULTS.md")), "Table 2")
    lines = [line for line in table2.splitlines() if line.startswith("| run6")]
    assert len(lines) == 3
    assert sum("(onnxruntime int8)" in line for line in lines) == 1
    assert sum(f"| {base['n'] + 5} |" in line for line in lines) == 1
    # Seeds of a row that hold out their own images stay one row: the held-out split is
    # told apart by its size, not by its ids.
    held = json.loads((evals["heldout"] / "summary.json").read_text())
    other_split = {**held, "seed": 1, "data_seed": 3, "train_ids_sha256": "c" * 64,
                   "dataset": {**held["dataset"], "ids_sha256": "d" * 64}}
    assert len(group_summaries([(tmp_path, held), (tmp_path, other_split)])) == 1


def test_the_time_and_device_columns_say_they_are_the_scoring_run(
        results: tuple[Path, str, dict[str, Path]]) -> None:
    """Training time sits in the provenance lines; the tables' time is the evaluation's."""
    _, text, evals = results
    summary = json.loads((evals["heldout"] / "summary.json").read_text())
    heldout = _section(_sections(text), "Table 3")
    header, _, *rows = [line for line in heldout.splitlines() if line.startswith("|")]
    columns = [c.strip() for c in header.strip("|").split("|")]
    [row] = [r for r in rows if r.startswith("| tiny_run |")]
    cells = [c.strip() for c in row.strip("|").split("|")]
    assert "Wall (s)" not in columns and "Device" not in columns
    assert cells[columns.index("Scoring (s)")] == f"{summary['wall_s']:.0f}"
    assert cells[columns.index("Scored on")] == summary["card"]
