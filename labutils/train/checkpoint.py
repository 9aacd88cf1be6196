"""Checkpoints: atomic writes, safe loads, RNG state, and run fingerprints for train-or-load caches.

A checkpoint is a plain dict of tensors, numbers, strings, lists and dicts, so it loads with
``torch.load(..., weights_only=True)``: nothing in the file is ever executed. A run's *description*
(its settings, its networks' architectures and initial weights, the state of torch's global random
generator when training starts (losses that draw noise with ``torch.randn_like`` use it), the source of
its loss functions, the source of the labutils code that trains, and the torch version) is fingerprinted:
``cache="name"`` turns it into a file name, so an unchanged run loads and a changed one (settings, code,
or the random state a notebook reached before it, e.g. after a cell was added above) trains again.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import torch
from torch import nn

from labutils import results
from labutils.files import atomic_write
from labutils.train.history import History

PACKAGE = Path(__file__).resolve().parents[1]
TRAINING_CODE = ("train/loops.py", "train/checkpoint.py", "losses.py", "nets.py", "data.py", "toy.py", "unrolled.py")
"""The labutils sources whose change retrains cached runs (relative to the package folder)."""


def code_fingerprint() -> str:
    """SHA-256 of :data:`TRAINING_CODE`'s sources and the torch version: changed code never loads an old cache."""
    h = hashlib.sha256(torch.__version__.encode())
    for name in TRAINING_CODE:
        h.update(name.encode() + b"\0" + (PACKAGE / name).read_bytes())
    return h.hexdigest()


def source_of(fn: Callable | None) -> str:
    """The source text of a loss function (its qualified name where the source cannot be read)."""
    if fn is None:
        return "None"
    try:
        return inspect.getsource(fn)
    except (OSError, TypeError):
        return getattr(fn, "__qualname__", repr(type(fn)))


def state_fingerprint(module: nn.Module) -> str:
    """SHA-256 of a module's parameters and buffers (names, shapes, dtypes, values), as they are now."""
    h = hashlib.sha256()
    for key, tensor in module.state_dict().items():
        t = tensor.detach().cpu().contiguous()
        h.update(f"{key}:{tuple(t.shape)}:{t.dtype}".encode())
        h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes())  # any dtype, 0-d buffers too
    return h.hexdigest()


def describe(config: Mapping[str, Any], modules: Mapping[str, nn.Module],
             functions: Mapping[str, Callable | None] | None = None) -> dict[str, str]:
    """A flat, JSON-able description of a run about to start: settings, architectures and initial weights,
    the global random state, loss sources, training code."""
    out = {f"config.{k}": json.dumps(v, sort_keys=True, default=str) for k, v in config.items()}
    for name, module in modules.items():
        out[f"module.{name}"] = repr(module)
        out[f"weights.{name}"] = state_fingerprint(module)
    out["torch_rng"] = hashlib.sha256(torch.get_rng_state().numpy().tobytes()).hexdigest()
    for name, fn in (functions or {}).items():
        out[f"function.{name}"] = source_of(fn)
    out["code"] = code_fingerprint()
    return out


def fingerprint(description: Mapping[str, str]) -> str:
    """SHA-256 of a run description (hex)."""
    return hashlib.sha256(json.dumps(dict(description), sort_keys=True).encode()).hexdigest()


def cache_file(name: str, description: Mapping[str, str]) -> Path:
    """``build/cache/<name>-<fingerprint>.pt``, ``name`` made file-system safe ("04 noise (a+b)" -> "04-noise-a-b")."""
    safe = re.sub(r"[^A-Za-z0-9_.-]+", "-", name).strip("-.")
    if not safe:
        raise ValueError(f"cache name {name!r} has no letters or digits: use a name such as '03-vae'")
    return results.build_dir() / "cache" / f"{safe}-{fingerprint(description)[:16]}.pt"


def save_atomic(payload: Mapping[str, Any], path: str | Path) -> None:
    """``torch.save`` through :func:`labutils.files.atomic_write`: never a half-written checkpoint."""
    with atomic_write(path) as f:
        torch.save(dict(payload), f)


def load_checked(path: str | Path, description: Mapping[str, str]) -> dict[str, Any] | None:
    """Load the checkpoint at ``path`` if it exists; refuse one written by another run description."""
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
            f"checkpoint {path} was written by another run (differs in: {', '.join(diff) or '?'}); "
            f"delete it, or pass cache='name' instead of a fixed checkpoint path (one file per run description)"
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


class Resumable:
    """The save/restore half of a training loop: networks, optimisers, the loop's generator, history.

    ``path`` None means nothing is saved or restored. ``restore()`` loads a checkpoint of the same
    description into the live objects and returns (history, last finished step); ``save(step, hist)``
    writes one atomically.
    """

    def __init__(self, path: str | Path | None, description: Mapping[str, str], models: Mapping[str, nn.Module],
                 optims: Mapping[str, torch.optim.Optimizer], generator: torch.Generator):
        self.path = Path(path) if path is not None else None
        self.description, self.models, self.optims, self.generator = dict(description), models, optims, generator

    def restore(self) -> tuple[History, int]:
        state = load_checked(self.path, self.description) if self.path is not None else None
        if state is None:
            hist = History()
            hist.path = self.path
            return hist, 0
        for name, module in self.models.items():
            module.load_state_dict(state["models"][name])
        for name, opt in self.optims.items():
            opt.load_state_dict(state["optims"][name])
        set_rng_state(state["rng"], self.generator)
        hist = History(state["history"], state["snapshots"])
        hist.path = self.path
        return hist, state["step"]

    def save(self, step: int, hist: History) -> None:
        if self.path is None:
            return
        save_atomic({"fingerprint": fingerprint(self.description), "description": self.description, "step": step,
                     "models": {n: m.state_dict() for n, m in self.models.items()},
                     "optims": {n: o.state_dict() for n, o in self.optims.items()},
                     "rng": rng_state(self.generator), "history": hist.rows,
                     "snapshots": [list(s) for s in hist.snapshots]}, self.path)

    def kept(self) -> str:
        """A sentence for messages: where the last good checkpoint is, if any."""
        return f"; the last checkpoint is kept at {self.path}" if self.path is not None else ""
