"""RESULTS.md details, on hand-written summaries: the training budget told only where a
budget stopped the run, the "(unverified)" label only where the overlap check could not be
made, and the "Partial" note only where ``--limit`` left images out."""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any

from mobilegan.evaluation.report import build_report, partial_note, summary_markdown
from mobilegan.metrics.isic import METRIC_KEYS, POOLED_KEYS

BASE: dict[str, Any] = {
    "format": 1, "name": "mobilegan", "run_name": "run", "weights": "runs/run/best.safetensors",
    "config_fingerprint": "0123456789ab",
    "model": {"name": "mobilegan", "attention": True, "multiscale": True},
    "params": 2_322_132, "epoch": 3, "training": None,
    "dataset": {"dir": "data/isic2017", "name": "isic2017", "split": "test", "kind": "test",
                "n_samples": 600, "set": "ISIC 2017 test", "n_available": 600},
    "protocol": "leak-free", "leak": False, "leak_label": "", "selection_note": "",
    "train_ids_sha256": "a" * 64,
    "overlap": {"known": True, "train": 0, "val": 0, "train_examples": []},
    "seed": 0, "data_seed": 0, "adversarial": True, "image_size": 128, "threshold": 0.5,
    "tta": False, "limit": None, "perturbation": None, "postprocess": False,
    "exposure_normalized": False, "scoring": "per image", "n": 600,
    "mean": {k: 0.8 for k in METRIC_KEYS}, "std": {k: 0.1 for k in METRIC_KEYS},
    "by_seen_in": {}, "pooled": {k: 0.8 for k in POOLED_KEYS}, "skipped": [], "warnings": [],
    "device": "cpu", "card": "cpu: test", "wall_s": 12.0, "command": "mobilegan evaluate x",
    "cwd": "/x", "figures": {},
}


def _summary(name: str, **changes: Any) -> dict[str, Any]:
    summary = copy.deepcopy(BASE)
    summary.update(name=name, run_name=name, weights=f"runs/{name}/best.safetensors", **changes)
    return summary


def _report(tmp_path: Path, summaries: list[dict[str, Any]]) -> str:
    for i, summary in enumerate(summaries):
        folder = tmp_path / "evals" / f"e{i}"
        folder.mkdir(parents=True)
        (folder / "summary.json").write_text(json.dumps(summary))
    return build_report([tmp_path / "evals"], tmp_path / "RESULTS.md")


def _table4(text: str) -> tuple[list[str], dict[str, list[str]]]:
    """Table 4's column names and, per row, its cells keyed by the row's label."""
    section = re.split(r"^## ", text, flags=re.MULTILINE)
    [table] = [s for s in section if s.startswith("Table 4")]
    header, _, *rows = [line for line in table.splitlines() if line.startswith("|")]
    columns = [c.strip() for c in header.strip("|").split("|")]
    cells = {}
    for row in rows:
        parts = [c.strip() for c in row.strip("|").split("|")]
        cells[parts[0]] = parts
    return columns, cells


def _training(epochs: float, best: int, stop_reason: str, budget: float | None) -> dict[str, Any]:
    return {"epochs_done": int(epochs), "epochs_trained": epochs, "steps_done": 100,
            "best_epoch": best, "best_val_JAC": 0.8, "stop_reason": stop_reason,
            "time_budget_s": budget, "wall_s": 50.0, "card": "cpu: test"}


def test_the_training_budget_is_told_only_where_it_stopped_the_run(tmp_path: Path) -> None:
    text = _report(tmp_path, [
        _summary("no_budget", training=_training(30.0, 28, "epochs", None)),
        _summary("budget_to_spare", training=_training(30.0, 29, "epochs", 7200)),
        _summary("budget_spent", training=_training(12.5, 12, "time budget", 3600)),
        _summary("step_limit", training=_training(2.0, 2, "max_steps", 3600)),
        _summary("collapsed", training=_training(9.0, 4, "collapse", None)),
        _summary("old", training=None),
    ])
    columns, rows = _table4(text)
    epochs = columns.index("Epochs trained")
    assert rows["no_budget"][epochs] == "30.0 (best 28)"
    assert rows["budget_to_spare"][epochs] == "30.0 (best 29)"
    assert rows["budget_spent"][epochs] == "12.5 (best 12), 3600 s budget"
    assert rows["step_limit"][epochs] == "2.0 (best 2)"
    assert rows["old"][epochs] == "—"  # evaluated before runs recorded their training
    # the provenance line says it the same way
    assert "(stopped by its 3600 s budget)" in text
    assert text.count("budget)") == 1
    # a run train.stop_on_collapse ended says so, in its row and its provenance line
    assert rows["collapsed"][epochs] == "9.0 (best 4), stopped: collapsed"
    assert text.count("(stopped: the generator collapsed, train.stop_on_collapse)") == 1


def test_unverified_marks_only_an_overlap_check_that_could_not_be_made(tmp_path: Path) -> None:
    """A summary older than the overlap record keeps its plain name; one whose check was
    impossible (bare weights, no splits) says "(unverified)"; a leak says LEAK instead."""
    older = _summary("older")
    del older["overlap"]
    text = _report(tmp_path, [
        older,
        _summary("unknown", overlap={"known": False, "train": 0, "val": 0}),
        _summary("checked", overlap={"known": True, "train": 0, "val": 0}),
        _summary("leaky", leak=True, overlap={"known": True, "train": 529, "val": 0}),
    ])
    _, rows = _table4(text)
    assert set(rows) == {"older", "unknown (unverified)", "checked", "leaky **(LEAK)**"}


def test_a_limit_that_covers_the_whole_set_is_not_partial() -> None:
    whole = _summary("whole", limit=600)  # --limit 600 of 600 images: every image scored
    assert partial_note(whole) == ""
    assert "Partial" not in summary_markdown(whole)
    beyond = _summary("beyond", limit=1000)
    assert partial_note(beyond) == ""
    assert partial_note(_summary("none")) == ""

    part = _summary("part", limit=10, n=10)
    part["dataset"] = {**part["dataset"], "n_samples": 10, "n_available": 600}
    note = "Partial: the first 10 of 600 images (--limit 10); not a score of the whole set"
    assert partial_note(part) == note
    assert f"**{note}**" in summary_markdown(part)
    # an older summary that did not record how many images there were says nothing
    unknown = copy.deepcopy(part)
    del unknown["dataset"]["n_available"]
    assert partial_note(unknown) == ""


def test_row_labels_say_partial_only_when_partial_and_tell_configs_apart(tmp_path: Path) -> None:
    """"(first 1000 images only)" was printed for a --limit that scored every image; two
    experiments under one --name with other configs were two rows of one label."""
    part = _summary("part", limit=10, n=10)
    part["dataset"] = {**part["dataset"], "n_samples": 10, "n_available": 600}
    text = _report(tmp_path, [
        _summary("whole", limit=1000),
        part,
        _summary("twin", config_fingerprint="aaaaaaaa1111"),
        _summary("twin", config_fingerprint="bbbbbbbb2222"),
    ])
    _, rows = _table4(text)
    assert set(rows) == {"whole", "part (first 10 images only)", "twin (config `aaaaaaaa`)",
                         "twin (config `bbbbbbbb`)"}


def test_a_robustness_change_is_the_difference_of_the_cells_printed(tmp_path: Path) -> None:
    clean = _summary("m", mean={**BASE["mean"], "JAC": 0.72004})
    perturbed = _summary("m", perturbation="hair", mean={**BASE["mean"], "JAC": 0.71496})
    text = _report(tmp_path, [clean, perturbed])
    row = next(line for line in text.splitlines() if "`hair`" in line)
    # printed 71.50 and 72.00: the change reads -0.50 (the raw -0.508 printed -0.51)
    assert "| 71.50 | 72.00 | -0.50 |" in row
