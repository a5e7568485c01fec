"""Checkpoints that survive a kill -9 at any moment: written to a temporary file in the
same folder, fsynced, then renamed over the old one (rename is atomic on POSIX), and read
back with ``weights_only=True`` so that loading never runs pickled code."""

from __future__ import annotations

import os
import pickle
import tempfile
from pathlib import Path
from typing import Any

import torch


def atomic_save(state: dict[str, Any], path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # A write cut by SIGKILL or SIGTERM (no exception to clean up after) left its temporary
    # file: one process writes a run's checkpoints, so any such file is stale.
    for stale in path.parent.glob(f".{path.name}.*.tmp"):
        stale.unlink(missing_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            torch.save(state, handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
        directory = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(directory)  # make the rename itself durable
        finally:
            os.close(directory)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def load_checkpoint(path: str | Path, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """The state saved by :func:`atomic_save`; a damaged file (cut short, emptied) is a
    ValueError naming it, not torch's zip-reader error."""
    try:
        return torch.load(Path(path), map_location=map_location, weights_only=True)
    except (RuntimeError, EOFError, pickle.UnpicklingError) as error:
        raise ValueError(f"{path} is not a readable checkpoint ({str(error).splitlines()[0]}); "
                         f"it may have been cut off: train again without --resume") from None
