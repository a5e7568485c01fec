"""Checkpoints that survive a kill -9 at any moment (written whole or not at all:
:func:`mobilegan.atomic.replaced_whole`), read back with ``weights_only=True`` so that
loading never runs pickled code."""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any

import torch

from mobilegan.atomic import replaced_whole


def atomic_save(state: dict[str, Any], path: str | Path) -> Path:
    path = Path(path)
    with replaced_whole(path) as tmp, tmp.open("wb") as handle:
        torch.save(state, handle)
    return path


def load_checkpoint(path: str | Path, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """The state saved by :func:`atomic_save`; a damaged file (cut short, emptied) is a
    ValueError naming it, not torch's zip-reader error."""
    try:
        return torch.load(Path(path), map_location=map_location, weights_only=True)
    except (RuntimeError, EOFError, pickle.UnpicklingError) as error:
        raise ValueError(f"{path} is not a readable checkpoint ({str(error).splitlines()[0]}); "
                         f"it may have been cut off: train again without --resume") from None
