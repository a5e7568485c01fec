"""A run's logs: per-step and per-epoch CSV (append-only, flushed each row) and, when the
tensorboard package is installed, TensorBoard events."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any


class CsvLog:
    """Append rows to a CSV; on resume, rows past the checkpoint are dropped first so
    that the file reads as one uninterrupted run."""

    def __init__(self, path: Path, key: str, resume_after: int | None = None) -> None:
        self.path, self.key = path, key
        self.fields: list[str] | None = None
        if path.exists() and resume_after is not None:
            with path.open(newline="") as handle:
                rows = [r for r in csv.DictReader(handle) if int(r[key]) <= resume_after]
            with path.open("w", newline="") as handle:
                if rows:
                    writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
                    writer.writeheader()
                    writer.writerows(rows)
                    self.fields = list(rows[0])
        elif path.exists():
            path.unlink()

    def write(self, row: dict[str, Any]) -> None:
        new = self.fields is None
        if new:
            self.fields = list(row)
        with self.path.open("a", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=self.fields, extrasaction="ignore")
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
                  "(pip install 'mobilegan[tensorboard]')")
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
