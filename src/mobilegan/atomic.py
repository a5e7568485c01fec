"""Files written whole or not at all: a checkpoint, exported weights, a log rewritten on
resume. Each is written to a temporary file in the same folder, fsynced, then renamed over
the old one (rename is atomic on POSIX), so a kill at any moment leaves the old file or the
new one, never half of one."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path


@contextlib.contextmanager
def replaced_whole(path: str | Path) -> Iterator[Path]:
    """A temporary path beside ``path`` to write in the block; when the block ends without
    an error it takes ``path``'s place (the rename made durable too), on an error it is
    removed. A kill leaves no exception to clean up after: its ``.<name>.*.tmp`` is swept by
    the next write of ``path`` (one process writes each of these files)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    for stale in path.parent.glob(f".{path.name}.*.tmp"):
        stale.unlink(missing_ok=True)
    fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        with tmp.open("r+b") as handle:
            os.fsync(handle.fileno())
        os.replace(tmp, path)
        directory = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(directory)  # make the rename itself durable
        finally:
            os.close(directory)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
