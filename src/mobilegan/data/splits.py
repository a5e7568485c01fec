"""Deterministic, saved train/validation splits.

A split depends only on the set of ids, the fraction and the seed, never on the order a
filesystem lists files in; saved to JSON with a hash of each side so that a run can prove
which images it trained on. (The official ISIC 2017 split needs none of this: it is
``discover()``'s "train" / "val" / "test".)
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from mobilegan import paper
from mobilegan.data.layouts import Sample

#: 2: hashes keyed ``train_ids_sha256`` / ``val_ids_sha256`` as a run's splits.json keys
#: them (1: ``train_sha256``); :func:`load_split` reads both.
SPLIT_FORMAT = 2


def ids_sha256(ids: Iterable[str]) -> str:
    """sha256 of the sorted ids joined by newlines: one fingerprint for a set of images."""
    return hashlib.sha256("\n".join(sorted(ids)).encode("utf-8")).hexdigest()


def seeded_split(ids: Iterable[str], train_fraction: float = paper.TRAIN_FRACTION,
                 seed: int = 0) -> tuple[list[str], list[str]]:
    """(train ids, val ids), each sorted: sorted ids shuffled by a seeded numpy Generator."""
    ordered = sorted(ids)
    if len(set(ordered)) != len(ordered):
        dupes = sorted({i for i in ordered if ordered.count(i) > 1})[:5]
        raise ValueError(f"duplicate ids cannot be split: {', '.join(dupes)}")
    if not 0.0 < train_fraction < 1.0:
        raise ValueError(f"train_fraction must be between 0 and 1, not {train_fraction}")
    if len(ordered) < 2:
        raise ValueError(f"need at least 2 ids to split, got {len(ordered)}")
    order = np.random.default_rng(seed).permutation(len(ordered))
    n_train = min(max(int(round(len(ordered) * train_fraction)), 1), len(ordered) - 1)
    train = sorted(ordered[i] for i in order[:n_train])
    val = sorted(ordered[i] for i in order[n_train:])
    return train, val


@dataclass(frozen=True)
class Split:
    """A saved split; unpacks as ``train, val = load_split(path)``."""

    train: list[str]
    val: list[str]
    seed: int | None = None
    train_fraction: float | None = None
    source: str | None = None

    def __iter__(self) -> Iterator[list[str]]:
        return iter((self.train, self.val))


def save_split(path: str | Path, train_ids: Sequence[str], val_ids: Sequence[str], *,
               seed: int | None = None, train_fraction: float | None = None,
               source: str | None = None, **about: Any) -> Path:
    """Write a split as JSON (sorted ids plus their hashes, keyed as a run's splits.json
    keys them, and ``about`` it); returns the path."""
    train, val = sorted(train_ids), sorted(val_ids)
    _check_disjoint(train, val, path)
    payload = {
        "format": SPLIT_FORMAT, "source": source, "seed": seed, "train_fraction": train_fraction,
        **about, "train_ids_sha256": ids_sha256(train), "val_ids_sha256": ids_sha256(val),
        "train": train, "val": val,
    }
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(payload, indent=1) + "\n", encoding="utf-8")
    return path


def load_split(path: str | Path) -> Split:
    """Read a split saved by ``save_split``; a hand-edited file whose hashes no longer match
    is refused, so a run never trains on a split it did not mean."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no split file at {path}")
    try:
        payload = json.loads(path.read_text(encoding="utf-8"))
        train, val = list(payload["train"]), list(payload["val"])
    except (json.JSONDecodeError, KeyError, TypeError) as error:
        raise ValueError(f"{path}: not a split file ({error})") from error
    for side, ids in (("train", train), ("val", val)):
        key = next((k for k in (f"{side}_ids_sha256", f"{side}_sha256") if k in payload), None)
        if key is not None and payload[key] != ids_sha256(ids):  # _sha256: format-1 files
            raise ValueError(f"{path}: {side} ids do not match {key} (edited by hand?)")
    _check_disjoint(train, val, path)
    return Split(sorted(train), sorted(val), payload.get("seed"), payload.get("train_fraction"),
                 payload.get("source"))


def _check_disjoint(train: Sequence[str], val: Sequence[str], path: str | Path) -> None:
    shared = sorted(set(train) & set(val))
    if shared:
        raise ValueError(f"{path}: {len(shared)} ids in both train and val, e.g. {shared[0]}")


def apply_split(samples: Sequence[Sample], split: Split | tuple[Sequence[str], Sequence[str]]
                ) -> tuple[list[Sample], list[Sample]]:
    """(train samples, val samples) in sample order; every split id must be present."""
    train_side, val_side = split
    train_ids, val_ids = set(train_side), set(val_side)
    present = {s.id for s in samples}
    missing = sorted((train_ids | val_ids) - present)
    if missing:
        raise ValueError(f"{len(missing)} split ids have no image, e.g. {missing[0]}")
    return ([s for s in samples if s.id in train_ids], [s for s in samples if s.id in val_ids])
