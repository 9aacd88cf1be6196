"""Input coercion: tensors, NumPy arrays and lists in, checked float64 CPU tensors out (one place for it)."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch


def float64(x: Any, name: str = "x") -> torch.Tensor:
    """``x`` (tensor on any device, array, nested list) as a detached float64 CPU tensor; ValueError if not numeric."""
    if isinstance(x, torch.Tensor):
        return x.detach().to("cpu", torch.float64)
    try:
        return torch.as_tensor(np.ascontiguousarray(x, dtype=np.float64))
    except (TypeError, ValueError) as err:
        raise ValueError(f"{name} must be a numeric array or tensor, got {type(x).__name__}") from err


def points(x: Any, name: str = "X", *, min_rows: int = 1, line: bool = False) -> torch.Tensor:
    """``x`` as finite float64 points (N, D) on the CPU, with at least ``min_rows`` rows.

    line: read a 1-D ``x`` (N,) as N points on the line (N, 1) instead of refusing it.
    """
    t = float64(x, name)
    if line and t.ndim == 1:
        t = t[:, None]
    if t.ndim != 2:
        raise ValueError(f"{name} must be a 2-D array (N points, D features), got shape {tuple(t.shape)}: "
                         f"pass one row per point, e.g. {name}.reshape(len({name}), -1) for images "
                         f"or {name}.reshape(-1, 1) for a list of numbers")
    if t.shape[0] < min_rows:
        raise ValueError(f"{name} has {t.shape[0]} points; at least {min_rows} are needed here: pass more points")
    if not bool(torch.isfinite(t).all()):
        bad = (~torch.isfinite(t)).any(dim=1).nonzero().flatten()[:5].tolist()
        raise ValueError(f"{name} contains NaN or infinite values (rows {bad}...): drop or fix those rows first")
    return t
