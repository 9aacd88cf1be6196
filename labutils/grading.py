"""What a lab's check cells use: inputs drawn by the grader, and the safe format values leave a kernel in.

A check cell has three sections (docs/GRADING.md, "Check cells"); run top to bottom in one kernel it is
an ordinary assert cell. At grading, only ``### INPUTS`` and ``### EXPORT`` run in the student's
(sandboxed) kernel, through :func:`run_export`, which writes the values that ``### EXPORT`` assigned; the
grader reads them back with :func:`load_values` (JSON, ``.npz`` without pickle, ``torch.load`` with
``weights_only=True``) and runs ``### ASSERT`` on them in a process the submission never touched.

* :func:`seed` / :func:`rng`: the seed of a check's inputs. The grader draws it at run time
  (``$GENLABS_CHECK_SEED`` in the kernel); outside grading it is 0.
* Exportable values: ``None``, ``bool``, ``int``, ``float``, ``str``, lists, tuples, dicts with string keys
  (an ``OrderedDict`` state dict included), numpy arrays of numbers or booleans, numpy scalars (come back
  as Python scalars) and torch tensors (come back on the CPU, detached).
"""

from __future__ import annotations

import contextvars
import io
import json
import math
import os
import stat
import sys
import traceback
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

SEED_ENV = "GENLABS_CHECK_SEED"  # the inputs' seed, set by the grader in the student's kernel
EXPORTS_ENV = "GENLABS_EXPORTS"  # the folder run_export writes to (set by the grader)
MAX_EXPORT_BYTES = 200_000_000  # all files of one check together
MAX_JSON_BYTES = 20_000_000  # its JSON record
_seed: contextvars.ContextVar[int | None] = contextvars.ContextVar("genlabs_check_seed", default=None)


def seed() -> int:
    """The seed of the check inputs: the grader's (drawn per run) while grading, else 0."""
    value = _seed.get()
    return int(os.environ.get(SEED_ENV, "0")) if value is None else value


def rng() -> np.random.Generator:
    """A fresh numpy generator seeded by :func:`seed`: the same inputs in the kernel and in the grader."""
    return np.random.default_rng(seed())


@contextmanager
def seeded(value: int) -> Iterator[None]:
    """Make :func:`seed` return ``value`` in this thread (the grader, judging one submission)."""
    token = _seed.set(value)
    try:
        yield
    finally:
        _seed.reset(token)


# --- encoding: a JSON tree whose arrays and tensors sit in side files ---------------------------------------


def _encode(value: Any, arrays: dict[str, np.ndarray], tensors: dict[str, Any], where: str) -> Any:
    torch = sys.modules.get("torch")  # a kernel that never imported torch holds no tensors
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, (int, np.integer, np.bool_)):
        return value.item() if isinstance(value, np.generic) else int(value)
    if isinstance(value, (float, np.floating)):
        f = float(value)
        return f if math.isfinite(f) else {"__float__": repr(f)}
    if isinstance(value, np.ndarray):
        if value.dtype.kind not in "biuf":
            raise TypeError(f"{where}: numpy arrays of dtype {value.dtype} cannot be exported (numbers only)")
        arrays[key := f"a{len(arrays)}"] = value
        return {"__ndarray__": key}
    if torch is not None and isinstance(value, torch.Tensor):
        tensors[key := f"t{len(tensors)}"] = value.detach().cpu().clone()
        return {"__tensor__": key}
    if isinstance(value, (list, tuple)):
        items = [_encode(v, arrays, tensors, f"{where}[{i}]") for i, v in enumerate(value)]
        return {"__tuple__": items} if isinstance(value, tuple) else items
    if isinstance(value, dict):
        if not all(isinstance(k, str) and not k.startswith("__") for k in value):
            raise TypeError(f"{where}: only dicts with string keys (not starting with '__') can be exported")
        return {"__dict__": {k: _encode(v, arrays, tensors, f"{where}[{k!r}]") for k, v in value.items()}}
    raise TypeError(f"{where}: a {type(value).__name__} cannot be exported; export numbers, strings, arrays, "
                    "tensors, or lists/dicts of them (a model: its state_dict())")


def save_values(folder: Path, name: str, values: dict[str, Any]) -> None:
    """Write ``values`` as ``name.json`` (+ ``name.npz``, ``name.pt``); the JSON file is written last."""
    arrays: dict[str, np.ndarray] = {}
    tensors: dict[str, Any] = {}
    tree = {k: _encode(v, arrays, tensors, k) for k, v in values.items()}
    folder.mkdir(parents=True, exist_ok=True)
    if arrays:
        np.savez(folder / f"{name}.npz", allow_pickle=False, **arrays)
    if tensors:
        sys.modules["torch"].save(tensors, folder / f"{name}.pt")
    (folder / f"{name}.json").write_text(json.dumps({"values": tree}))


def save_error(folder: Path, name: str, error: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{name}.json").write_text(json.dumps({"error": error}))


def _read(folder_fd: int, filename: str, budget: int) -> bytes | None:
    """A regular file of the folder (never through a symbolic link), None when absent; ValueError when large."""
    try:
        fd = os.open(filename, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK, dir_fd=folder_fd)
    except FileNotFoundError:
        return None
    with os.fdopen(fd, "rb") as f:
        info = os.fstat(f.fileno())
        if not stat.S_ISREG(info.st_mode):
            raise ValueError(f"{filename} is not a regular file")
        if info.st_size > budget:
            raise ValueError(f"{filename} has {info.st_size} bytes, more than the {budget} accepted")
        return f.read(budget + 1)


def _decode(node: Any, arrays: Any, tensors: dict[str, Any]) -> Any:
    if isinstance(node, list):
        return [_decode(v, arrays, tensors) for v in node]
    if not isinstance(node, dict):
        return node
    (tag, body), = node.items()
    if tag == "__float__":
        return float({"nan": "nan", "inf": "inf", "-inf": "-inf"}[body])
    if tag == "__tuple__":
        return tuple(_decode(v, arrays, tensors) for v in body)
    if tag == "__dict__":
        return {str(k): _decode(v, arrays, tensors) for k, v in body.items()}
    if tag == "__ndarray__":
        return arrays[body]
    if tag == "__tensor__":
        return tensors[body]
    raise ValueError(f"unknown tag {tag!r}")


def _checked_zip(raw: bytes, budget: int) -> zipfile.ZipFile:
    """The zip archive in ``raw``, after checking that it unpacks to at most ``budget`` bytes (no zip bomb)."""
    archive = zipfile.ZipFile(io.BytesIO(raw))
    if sum(info.file_size for info in archive.infolist()) > budget:
        raise ValueError(f"the archive unpacks to more than {budget} bytes")
    return archive


def _load_npz(raw: bytes, budget: int) -> dict[str, np.ndarray]:
    """Arrays of an ``.npz`` file, without pickle, each header's size checked before it is read."""
    arrays = {}
    with _checked_zip(raw, budget) as archive:
        for info in archive.infolist():
            with archive.open(info) as f:
                read_header = {(1, 0): np.lib.format.read_array_header_1_0,
                               (2, 0): np.lib.format.read_array_header_2_0}[np.lib.format.read_magic(f)]
                shape, _, dtype = read_header(f)
                if dtype.hasobject or math.prod(shape) * dtype.itemsize > info.file_size:
                    raise ValueError(f"{info.filename}: an object array, or more data than the file holds")
            with archive.open(info) as f:
                arrays[info.filename.removesuffix(".npy")] = np.lib.format.read_array(f, allow_pickle=False)
    return arrays


def _load_tensors(raw: bytes, budget: int) -> dict[str, Any]:
    """The tensors of a ``torch.save`` file, loaded with ``weights_only=True`` (no arbitrary unpickling)."""
    import torch

    _checked_zip(raw, budget).close()
    tensors = torch.load(io.BytesIO(raw), map_location="cpu", weights_only=True)
    if not isinstance(tensors, dict) or not all(type(t) is torch.Tensor for t in tensors.values()):
        raise ValueError("the tensor file holds something else than a dict of tensors")
    return tensors


def load_values(folder: Path, name: str) -> dict[str, Any]:
    """The values ``name`` exported; never unpickles. ValueError with the kernel's error when export failed,
    FileNotFoundError when nothing was exported, ValueError for anything malformed."""
    try:
        dfd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
    except (FileNotFoundError, NotADirectoryError):
        raise FileNotFoundError(f"no values exported ({name})") from None
    try:
        budget = MAX_EXPORT_BYTES
        head = _read(dfd, f"{name}.json", MAX_JSON_BYTES)
        if head is None:
            raise FileNotFoundError(f"no values exported ({name})")
        doc = json.loads(head)
        if not isinstance(doc, dict) or set(doc) not in ({"values"}, {"error"}):
            raise ValueError("malformed export record")
        if "error" in doc:
            raise ValueError(str(doc["error"]))
        arrays: dict[str, np.ndarray] = {}
        tensors: dict[str, Any] = {}
        if (raw := _read(dfd, f"{name}.npz", budget - len(head))) is not None:
            arrays = _load_npz(raw, budget)
        if (raw := _read(dfd, f"{name}.pt", budget - len(head))) is not None:
            tensors = _load_tensors(raw, budget)
        return _decode({"__dict__": doc["values"]}, arrays, tensors)
    except (ValueError, FileNotFoundError):
        raise
    except Exception as e:  # noqa: BLE001 - whatever a hostile file makes a parser raise
        raise ValueError(f"malformed export ({type(e).__name__}: {e})") from None
    finally:
        os.close(dfd)


# --- the kernel side ------------------------------------------------------------------------------


def run_export(name: str, inputs: str, export: str, names: list[str]) -> None:
    """Run a check's INPUTS and EXPORT sections in the kernel's namespace and write the values of ``names``.

    Called by the cells the grader generates (never by hand). Failures are written as the check's error
    and printed; the verdict is decided by the grader from the written values only.
    """
    main = sys.modules["__main__"].__dict__
    folder = Path(os.environ[EXPORTS_ENV])
    for n in names:
        main.pop(n, None)  # no stale value of an earlier check can stand in
    try:
        exec(compile(inputs, f"<check {name}: inputs>", "exec"), main)
        exec(compile(export, f"<check {name}: export>", "exec"), main)
        save_values(folder, name, {n: main[n] for n in names if n in main})
    except Exception as e:  # noqa: BLE001 - the student's error is this check's result
        error = "".join(traceback.format_exception_only(type(e), e)).strip()
        print(error, file=sys.stderr)
        save_error(folder, name, error)
