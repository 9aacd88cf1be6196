"""Where outputs go, and ``record(name, value)`` for a notebook's headline numbers.

Everything a run writes lives under the build directory: ``$GENLABS_BUILD`` if set, else
``build/`` at the repository root (found by walking up to ``pyproject.toml``), else ``./build``.
Headline numbers go to ``build/results/<notebook>.json``, one JSON object per notebook.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from labutils.files import atomic_write

BUILD_ENV = "GENLABS_BUILD"
CHECKS_KEY, PROFILE_KEY = "checks", "profile"
_notebook: str | None = None


def build_dir() -> Path:
    """The build directory (created on first use)."""
    if os.environ.get(BUILD_ENV):
        root = Path(os.environ[BUILD_ENV])
    else:
        here = Path.cwd().resolve()
        repo = next((p for p in (here, *here.parents) if (p / "pyproject.toml").is_file()), None)
        root = (repo / "build") if repo else (here / "build")
    root.mkdir(parents=True, exist_ok=True)
    return root


def set_notebook(name: str) -> None:
    """Name the notebook whose results and figures are being written (``labutils.start`` calls it)."""
    global _notebook
    if not name or any(c in name for c in "/\\") or name.startswith("."):
        raise ValueError(f"notebook name {name!r} must be a plain file stem such as '03_vae'")
    _notebook = name


def current_notebook() -> str:
    if _notebook is None:
        raise RuntimeError("no notebook is set: call labutils.start('NN_name', ...) first")
    return _notebook


def _jsonable(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if hasattr(value, "tolist"):  # numpy arrays and scalars, torch tensors
        return _jsonable(value.tolist())
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, (bool, int, float, str)) or value is None:
        return value
    raise TypeError(f"cannot record {type(value).__name__} {value!r}: give numbers, strings, lists or dicts")


def results_path(notebook: str | None = None) -> Path:
    return build_dir() / "results" / f"{notebook or current_notebook()}.json"


def _update(change: Callable[[dict[str, Any]], None]) -> None:
    path = results_path()
    data = json.loads(path.read_text()) if path.is_file() else {}
    change(data)
    with atomic_write(path, "w") as f:
        json.dump(data, f, indent=2, sort_keys=True)
        f.write("\n")


def record(name: str, value: Any) -> Any:
    """Store ``value`` under ``name`` in ``build/results/<notebook>.json`` and return it."""
    if name in (CHECKS_KEY, PROFILE_KEY):
        raise ValueError(f"{name!r} is reserved: pick another name")
    _update(lambda data: data.__setitem__(name, _jsonable(value)))
    return value


def record_check(name: str, entry: Mapping[str, Any]) -> None:
    """Store a claim's numbers under ``"checks"`` (see :func:`labutils.checks.check`, which calls this)."""
    _update(lambda data: data.setdefault(CHECKS_KEY, {}).__setitem__(name, _jsonable(entry)))


def start_run(profile: str) -> None:
    """A fresh, empty results file for the current notebook, stamped with its profile (``labutils.start``)."""
    results_path().unlink(missing_ok=True)  # a fresh run records afresh: no stale value survives it
    _update(lambda data: data.__setitem__(PROFILE_KEY, profile))


def load(notebook: str) -> dict[str, Any]:
    """The recorded results of ``notebook`` (empty if it has not run)."""
    path = results_path(notebook)
    return json.loads(path.read_text()) if path.is_file() else {}
