"""A run's logs: per-step and per-epoch CSV (append-only, flushed each row) and, when the
tensorboard package is installed, TensorBoard events."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

from mobilegan.atomic import replaced_whole


class CsvLog:
    """Append rows to a CSV; on resume, rows past the checkpoint are dropped first so
    that the file reads as one uninterrupted run. A row with a column the file lacks
    rewrites the file with it (the first row's columns were the file's for good: an epoch
    with no successful step dropped every loss column from the rest of the run)."""

    def __init__(self, path: Path, key: str, resume_after: int | None = None) -> None:
        self.path, self.key = path, key
        self.fields: list[str] | None = None
        if path.exists() and resume_after is not None:
            with path.open(newline="") as handle:
                reader = csv.DictReader(handle)
                rows = [r for r in reader if int(r[key]) <= resume_after]
                fields = list(reader.fieldnames or [])
            if rows:
                self._rewrite(fields, rows)
            else:
                path.unlink()
        elif path.exists():
            path.unlink()

    def _rewrite(self, fields: list[str], rows: list[dict[str, Any]]) -> None:
        """The whole file, written whole or not at all: a kill in between leaves the old
        file or the new one, never an empty one."""
        with replaced_whole(self.path) as tmp, tmp.open("w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=fields, restval="")
            writer.writeheader()
            writer.writerows(rows)
        self.fields = fields

    def write(self, row: dict[str, Any]) -> None:
        if self.fields is not None and not set(row) <= set(self.fields):
            self._rewrite(self.fields + [k for k in row if k not in self.fields],
                          read_csv(self.path) if self.path.exists() else [])
        new = self.fields is None
        if new:
            self.fields = list(row)
        with self.path.open("a", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=self.fields, extrasaction="ignore",
                                    restval="")
            if new:
                writer.writeheader()
            writer.writerow(row)


class TensorBoard:
    """Scalars to TensorBoard if available; silently nothing otherwise (said once)."""

    def __init__(self, folder: Path) -> None:
        try:
            from torch.utils.tensorboard import SummaryWriter
        except Exception:  # noqa: BLE001 - tensorboard is an optional extra
            self.writer = None
            print("note: tensorboard is not installed; CSV logs only "
                  "(pip install -e '.[tensorboard]' in the mobilegan checkout)")
        else:
            self.writer = SummaryWriter(str(folder))

    def scalars(self, values: dict[str, float], step: int, prefix: str) -> None:
        if self.writer is None:
            return
        for name, value in values.items():
            if isinstance(value, (int, float)):
                self.writer.add_scalar(f"{prefix}/{name}", value, step)
        self.writer.flush()

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


def read_csv(path: str | Path) -> list[dict[str, str]]:
    with Path(path).open(newline="") as handle:
        return list(csv.DictReader(handle))
