"""Seeded splits depend on the ids, the fraction and the seed only, and survive a save."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from mobilegan.data.layouts import Sample
from mobilegan.data.splits import (Split, apply_split, ids_sha256, load_split, save_split,
                                   seeded_split)

IDS = [f"ISIC_{i:07d}" for i in range(100)]


def test_same_inputs_same_split_whatever_the_order() -> None:
    train, val = seeded_split(IDS, 0.8, seed=3)
    again = seeded_split(list(reversed(IDS)), 0.8, seed=3)
    assert (train, val) == again
    assert len(train) == 80 and len(val) == 20
    assert train == sorted(train) and val == sorted(val)
    assert set(train).isdisjoint(val) and set(train) | set(val) == set(IDS)


def test_the_training_share_is_rounded_not_cut() -> None:
    """7 ids at 0.8: 5.6 training ids round to 6 (a floor would keep 5); never all of them."""
    assert [len(seeded_split(IDS[:n], 0.8)[0]) for n in (7, 3, 2)] == [6, 2, 1]


def test_the_seed_changes_the_split() -> None:
    assert seeded_split(IDS, seed=0) != seeded_split(IDS, seed=1)


def test_split_is_pinned() -> None:
    """A change here would silently change every saved experiment's validation set."""
    _, val = seeded_split(IDS, 0.8, seed=0)
    assert val[:3] == ["ISIC_0000007", "ISIC_0000029", "ISIC_0000031"]
    assert ids_sha256(val) == "520573bd938bd81b6f23b9fe5031aded0e1118f1a1bb7aac84b5ef10ac3e0de4"


def test_ids_sha256_is_of_sorted_ids_joined_by_newlines() -> None:
    expected = hashlib.sha256("a\nb\nc".encode()).hexdigest()
    assert ids_sha256(["c", "a", "b"]) == expected


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="duplicate"):
        seeded_split(["a", "a", "b"])
    with pytest.raises(ValueError, match="between 0 and 1"):
        seeded_split(IDS, 1.0)
    with pytest.raises(ValueError, match="at least 2"):
        seeded_split(["a"])


def test_save_and_load(tmp_path: Path) -> None:
    train, val = seeded_split(IDS, 0.75, seed=5)
    path = save_split(tmp_path / "sub" / "split.json", train, val, seed=5, train_fraction=0.75,
                      source="isic2018")
    loaded = load_split(path)
    assert isinstance(loaded, Split)
    assert (loaded.train, loaded.val) == (train, val)
    assert loaded.seed == 5 and loaded.train_fraction == 0.75 and loaded.source == "isic2018"
    tr, va = loaded  # unpacks like a tuple
    assert tr == train and va == val
    payload = json.loads(path.read_text())
    assert payload["train_ids_sha256"] == ids_sha256(train)


def test_edited_or_broken_split_files_are_refused(tmp_path: Path) -> None:
    path = save_split(tmp_path / "s.json", ["a", "b"], ["c"])
    payload = json.loads(path.read_text())
    payload["val"].append("d")
    path.write_text(json.dumps(payload))
    with pytest.raises(ValueError, match="val ids do not match"):
        load_split(path)
    path.write_text("{not json")
    with pytest.raises(ValueError, match="not a split file"):
        load_split(path)
    with pytest.raises(FileNotFoundError):
        load_split(tmp_path / "none.json")
    with pytest.raises(ValueError, match="both train and val"):
        save_split(tmp_path / "x.json", ["a"], ["a"])


def test_apply_split_keeps_sample_order() -> None:
    samples = [Sample(i, Path(f"{i}.jpg"), None) for i in ["c", "a", "b"]]
    train, val = apply_split(samples, (["a", "c"], ["b"]))
    assert [s.id for s in train] == ["c", "a"] and [s.id for s in val] == ["b"]
    with pytest.raises(ValueError, match="no image"):
        apply_split(samples, (["a", "z"], ["b"]))


def test_the_default_split_is_the_papers_80_20() -> None:
    from mobilegan import paper
    from mobilegan.data.splits import seeded_split

    train, val = seeded_split([f"id{i:02d}" for i in range(20)])
    assert paper.TRAIN_FRACTION == 0.8 and (len(train), len(val)) == (16, 4)


def test_a_split_file_with_an_id_on_both_sides_is_refused(tmp_path: Path) -> None:
    """A hand-written split without hashes is still checked: an image both trained on and
    used to choose the epoch would make the held-out score a training score."""
    path = tmp_path / "split.json"
    path.write_text(json.dumps({"train": ["a", "b"], "val": ["b"]}))
    with pytest.raises(ValueError, match="both train and val"):
        load_split(path)
