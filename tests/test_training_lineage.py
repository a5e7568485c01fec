"""A run started from other weights (train.init_generator) inherits what they were trained
and selected on: a leak-free stage cannot hide a leaky start, evaluations count the start's
ids, and start weights without their ids make every evaluation UNVERIFIED."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mobilegan.config import RunConfig, apply_overrides
from mobilegan.data.layouts import load_samples
from mobilegan.data.splits import ids_sha256
from mobilegan.evaluation.evaluate import leak_label, overlap_report
from mobilegan.evaluation.source import ModelSource
from mobilegan.training.data_setup import OverlapError, plan_splits, protocol_line


def _config(data_root: Path, init: Path | None = None, *extra: str) -> RunConfig:
    return apply_overrides(RunConfig(), [
        f"data.train_dir={data_root / 'isic2018'}", f"data.eval_dir={data_root / 'isic2017'}",
        "data.limit=16", "data.val_limit=4", *extra,
        *([f"train.init_generator={init}"] if init else [])])


def _start_weights(folder: Path, train: list[str], val: list[str] | None = None,
                   splits: bool = True, metadata: dict | None = None) -> Path:
    """A start file as a run leaves it: weights, their .json, the run's splits.json. The
    weights' bytes are never read by the split planning."""
    folder.mkdir(parents=True)
    weights = folder / "best.safetensors"
    weights.write_bytes(b"")
    (folder / "best.json").write_text(json.dumps({"model": {}, "metadata": metadata or {}}))
    if splits:
        (folder / "splits.json").write_text(json.dumps({"protocol": "test", "train": train,
                                                        "val": val or []}))
    return weights


def test_a_leaky_start_is_refused_leak_free_and_labelled_under_the_paper_protocol(
        data_root: Path, tmp_path: Path) -> None:
    test_ids = sorted(s.id for s in load_samples(data_root / "isic2017", "test"))[:3]
    own_train, own_val, _ = plan_splits(_config(data_root))
    start = _start_weights(tmp_path / "leaky", test_ids)
    with pytest.raises(OverlapError, match="3 ids of the evaluation set.*not leak-free"):
        plan_splits(_config(data_root, start))
    _, _, info = plan_splits(_config(data_root, start, "data.exclude_eval_ids=false",
                                     "data.allow_overlap=true"))
    assert info["leak"] and info["protocol"] == "paper (leaky)"
    assert "3 only in the start weights'" in info["leak_label"]
    assert info["inherited"]["known"] and set(test_ids) <= set(info["inherited"]["train"])
    # and a start that learned this run's validation images is refused under any protocol
    learned_val = _start_weights(tmp_path / "val", [own_val[0].id])
    with pytest.raises(OverlapError, match="1 of this run's validation ids"):
        plan_splits(_config(data_root, learned_val, "data.allow_overlap=true"))


def test_a_clean_start_is_recorded_and_an_unknown_one_says_unverified(
        data_root: Path, tmp_path: Path) -> None:
    own_train, _, _ = plan_splits(_config(data_root))
    train_ids = [s.id for s in own_train]
    clean = _start_weights(tmp_path / "clean", train_ids, ["ISIC_9999999"])
    _, _, info = plan_splits(_config(data_root, clean))
    assert info["protocol"] == "leak-free" and not info["leak"]
    assert info["inherited"] == {"from": str(clean), "known": True, "train": sorted(train_ids),
                                 "val": ["ISIC_9999999"], "splits": str(clean.parent / "splits.json"),
                                 "protocol": "test"}
    assert "UNVERIFIED" not in protocol_line(info)
    # a start of the same split known only by its metadata's hash (older shipped files)
    hashed = _start_weights(tmp_path / "hashed", [], splits=False,
                            metadata={"train_ids_sha256": ids_sha256(train_ids),
                                      "protocol": "leak-free"})
    _, _, info = plan_splits(_config(data_root, hashed))
    assert info["inherited"]["known"] and info["inherited"]["verified_by"] == "train_ids_sha256"
    other = _start_weights(tmp_path / "other", [], splits=False,
                           metadata={"train_ids_sha256": ids_sha256(train_ids[1:])})
    _, _, info = plan_splits(_config(data_root, other))
    assert not info["inherited"]["known"]
    assert "UNVERIFIED" in protocol_line(info) and "no splits.json" in protocol_line(info)
    # an ancestor without ids makes its descendants unknown too
    (tmp_path / "child").mkdir()
    (tmp_path / "child" / "best.safetensors").write_bytes(b"")
    (tmp_path / "child" / "splits.json").write_text(json.dumps(
        {"train": train_ids, "val": [], "inherited": info["inherited"]}))
    _, _, grandchild = plan_splits(_config(data_root, tmp_path / "child" / "best.safetensors"))
    assert not grandchild["inherited"]["known"]
    assert "an earlier stage" in grandchild["inherited"]["reason"]


def _source(splits: dict, run_config: dict | None = None) -> ModelSource:
    return ModelSource(Path("w.safetensors"), None, {}, splits, run_config)


def test_evaluations_count_the_start_weights_ids(tmp_path: Path) -> None:
    inherited = {"from": "a", "known": True, "train": ["t1", "t2"], "val": ["v1"]}
    source = _source({"train": ["x"], "val": ["y"], "inherited": inherited})
    overlap = overlap_report(["t1", "v1", "y", "z"], source)
    assert (overlap["train"], overlap["val"]) == (1, 2) and overlap["inherited_from"] == "a"
    assert leak_label(overlap, 4).startswith("LEAK: 1 of the 4")
    unknown = _source({"train": ["x"], "inherited": {"from": "a", "known": False, "reason": "r"}})
    assert leak_label(overlap_report(["x"], unknown), 1).startswith("UNVERIFIED")
    # a run from before splits.json recorded its start: the start named in config.json is
    # read at evaluation time (here it is gone)
    old = _source({"train": ["x"], "val": []},
                  {"train": {"init_generator": str(tmp_path / "gone.safetensors")}})
    assert not overlap_report(["x"], old)["known"]
    start = _start_weights(tmp_path / "start", ["q"])
    old = _source({"train": ["x"], "val": []}, {"train": {"init_generator": str(start)}})
    assert overlap_report(["q", "x"], old)["train"] == 2


def test_a_three_stage_chain_keeps_the_first_stages_ids(data_root: Path, tmp_path: Path) -> None:
    """A leak-free stage between a leaky start and this run: the first stage's training
    and validation ids must reach the grandchild through the child's splits.json, or a
    leak two stages back would pass as leak-free."""
    from mobilegan.models.io import inherited_split

    test_ids = sorted(s.id for s in load_samples(data_root / "isic2017", "test"))
    trained, selected = test_ids[0], test_ids[1]
    own_train, _, _ = plan_splits(_config(data_root))
    grandparent = _start_weights(tmp_path / "grandparent", [trained], [selected])
    child = tmp_path / "child"
    child.mkdir()
    (child / "best.safetensors").write_bytes(b"")
    (child / "splits.json").write_text(json.dumps(
        {"train": [s.id for s in own_train], "val": ["ISIC_9999999"],
         "inherited": inherited_split(grandparent)}))
    chain = inherited_split(child / "best.safetensors")
    assert chain["known"]
    assert trained in chain["train"]  # the first stage's training id
    assert selected in chain["val"]  # ... and its validation id
    assert {s.id for s in own_train} <= set(chain["train"]) and "ISIC_9999999" in chain["val"]
    with pytest.raises(OverlapError, match="2 ids of the evaluation set"):
        plan_splits(_config(data_root, child / "best.safetensors"))


def test_the_leak_label_counts_an_id_both_trained_on_and_inherited_once() -> None:
    """An id in this run's training split that the start weights also saw is this run's
    leak, not the start's: only the ids the start alone saw are said to be its."""
    from mobilegan.training.data_setup import _leak_label

    assert _leak_label({"a", "b"}, trained={"a"}, inherited={"a", "b"}) == (
        "LEAKY: 2 training ids are in the test set (1 in the training split, 0 in "
        "validation, 1 only in the start weights' (train.init_generator))")
    # An id this run validates on is this run's, even when the start weights also saw it.
    assert _leak_label({"a", "b"}, trained={"a"}, inherited={"b"}, validated={"b"}) == (
        "LEAKY: 2 training ids are in the test set (1 in the training split, 1 in validation)")


def test_a_leaky_starts_ids_count_in_the_runs_overlap_with_the_evaluation_set(
        data_root: Path, tmp_path: Path) -> None:
    """splits.json's train_overlap_with_eval is what reports quote: the test ids only the
    start weights trained on are part of this run's leak and must be counted there."""
    test_ids = sorted(s.id for s in load_samples(data_root / "isic2017", "test"))[:3]
    start = _start_weights(tmp_path / "leaky", test_ids)
    train, _, info = plan_splits(_config(data_root, start, "data.exclude_eval_ids=false",
                                         "data.allow_overlap=true"))
    assert not {s.id for s in train} & set(test_ids)  # the three are the start's alone
    assert info["train_overlap_with_eval"] == 3


def test_an_id_trained_on_and_inherited_as_validation_counts_as_trained_only() -> None:
    """An evaluated image is one leak: trained on here and selected on by the start
    weights, it is counted in ``train`` and not again in ``val``."""
    inherited = {"from": "a", "known": True, "train": [], "val": ["q"]}
    overlap = overlap_report(["q"], _source({"train": ["q"], "val": [], "inherited": inherited}))
    assert (overlap["train"], overlap["val"]) == (1, 0)
    assert overlap["train_ids"] == ["q"] and overlap["val_ids"] == []
