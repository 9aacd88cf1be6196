"""What a training loop returns: logged rows, snapshots, and how the run ended."""

from __future__ import annotations

from pathlib import Path
from typing import Any


class History:
    """Logged rows (one dict per epoch or logging interval) plus snapshots ``(step, value)``."""

    def __init__(self, rows: list[dict[str, float]] | None = None, snapshots: list | None = None):
        self.rows = rows or []
        self.snapshots: list[tuple[int, Any]] = [tuple(s) for s in (snapshots or [])]
        self.interrupted = False
        self.from_cache = False
        self.path: Path | None = None  # where the run's checkpoint is kept (None: not saved)

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, key: str) -> list[float]:
        """A column: ``history["loss"]`` is the list of logged losses."""
        if not self.rows or key not in self.rows[-1]:
            raise KeyError(f"history has no column {key!r}; columns: {list(self.rows[-1]) if self.rows else []}")
        return [r.get(key, float("nan")) for r in self.rows]

    @property
    def last(self) -> dict[str, float]:
        return self.rows[-1] if self.rows else {}

    def frame(self):
        """The rows as a pandas DataFrame (a table for the notebook)."""
        import pandas as pd

        return pd.DataFrame(self.rows)
