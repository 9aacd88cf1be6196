"""Checkpoints: atomic writes, safe loads, RNG state, and config fingerprints for train-or-load caches.

A checkpoint is a plain dict of tensors, numbers, strings, lists and dicts, so it loads with
``torch.load(..., weights_only=True)``: nothing in the file is ever executed.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from torch import nn

from labutils import results


def describe(config: Mapping[str, Any], modules: Mapping[str, nn.Module]) -> dict[str, str]:
    """A flat, JSON-able description of a run: its settings and its networks' architectures."""
    out = {f"config.{k}": json.dumps(v, sort_keys=True, default=str) for k, v in config.items()}
    for name, module in modules.items():
        out[f"module.{name}"] = repr(module)
    return out


def fingerprint(description: Mapping[str, str]) -> str:
    """SHA-256 of a run description (hex)."""
    return hashlib.sha256(json.dumps(dict(description), sort_keys=True).encode()).hexdigest()


def cache_path(name: str, config: Mapping[str, Any]) -> Path:
    """``build/cache/<name>-<hash>.pt``, keyed by ``config``: same config, same file (train once, then load)."""
    key = fingerprint({k: json.dumps(v, sort_keys=True, default=str) for k, v in config.items()})[:16]
    return results.build_dir() / "cache" / f"{name}-{key}.pt"


def save_atomic(payload: Mapping[str, Any], path: str | Path) -> None:
    """``torch.save`` to a temporary file beside ``path``, fsync, then rename over it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            torch.save(dict(payload), f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def load_checked(path: str | Path, description: Mapping[str, str]) -> dict[str, Any] | None:
    """Load the checkpoint at ``path`` if it exists; refuse one written by another configuration."""
    path = Path(path)
    if not path.is_file():
        return None
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:
        raise RuntimeError(f"checkpoint {path} cannot be read safely ({err}); delete it to start over") from err
    if ckpt.get("fingerprint") != fingerprint(description):
        theirs = ckpt.get("description", {})
        diff = sorted(k for k in set(theirs) | set(description) if theirs.get(k) != description.get(k))
        raise RuntimeError(
            f"checkpoint {path} was written by another configuration (differs in: {', '.join(diff) or '?'}); "
            f"delete it, or pass a different checkpoint path (e.g. checkpoint.cache_path(name, config))"
        )
    return ckpt


def rng_state(*generators: torch.Generator) -> dict[str, Any]:
    """The global torch RNGs (CPU and CUDA) and the given generators' states."""
    state: dict[str, Any] = {"torch": torch.get_rng_state(), "gens": [g.get_state() for g in generators]}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: Mapping[str, Any], *generators: torch.Generator) -> None:
    torch.set_rng_state(state["torch"])
    for g, s in zip(generators, state["gens"], strict=True):
        g.set_state(s)
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
