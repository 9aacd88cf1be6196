"""Pick the accelerator, seed every random number generator, report the environment."""

from __future__ import annotations

import os
import platform
import random
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import torch

DEVICE_ENV = "GENLABS_DEVICE"
KNOWN_DEVICES = ("auto", "cuda", "mps", "cpu")


def pick_device(name: str | None = None) -> torch.device:
    """Return the device to compute on.

    Order for ``"auto"``: CUDA, then Apple MPS, then CPU. ``name`` (or the ``GENLABS_DEVICE``
    environment variable when ``name`` is None) forces one of ``cuda``, ``cuda:N``, ``mps``, ``cpu``.
    """
    requested = (name or os.environ.get(DEVICE_ENV) or "auto").strip().lower()
    base = requested.split(":")[0]
    if base not in KNOWN_DEVICES:
        raise ValueError(
            f"unknown device {requested!r}: use one of {', '.join(KNOWN_DEVICES)} "
            f"(or cuda:N), as an argument or in ${DEVICE_ENV}"
        )
    if base == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    if base == "cuda" and not torch.cuda.is_available():
        raise RuntimeError(
            f"device {requested!r} was asked for but CUDA is not available here: "
            f"unset ${DEVICE_ENV} or pass 'auto' / 'cpu'"
        )
    if base == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise RuntimeError("device 'mps' was asked for but Apple MPS is not available: use 'auto' or 'cpu'")
    return torch.device(requested)


def seed_everything(seed: int, deterministic: bool = False) -> torch.Generator:
    """Seed Python, NumPy and torch (CPU and every CUDA device); return a seeded CPU generator.

    ``deterministic=True`` also asks torch for deterministic kernels (slower on a GPU; on the CPU
    the default kernels are already deterministic for the same thread count).
    """
    if not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be a non-negative int, got {seed!r}")
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    if torch.cuda.is_available():
        torch.cuda.manual_seed_all(seed)
    if deterministic:
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        torch.use_deterministic_algorithms(True, warn_only=True)
        torch.backends.cudnn.benchmark = False
    return torch.Generator().manual_seed(seed)


def flush_denormals() -> bool:
    """Treat denormal floats as zero on the CPU: a guard, since arithmetic on them is slow.

    Returns whether the CPU supports it. ``benchmarks/denormals.py`` found no denormals in a small GAN
    and no cost either way; the slow stretches it was written for were spinning OpenMP threads, which
    ``OMP_WAIT_POLICY=PASSIVE`` (set by the Makefile and for notebook kernels) removes.
    """
    return bool(torch.set_flush_denormal(True))


def denormals_are_flushed() -> bool:
    """Whether CPU arithmetic in this thread now treats denormal floats as zero (:func:`flush_denormals`)."""
    smallest = torch.tensor([1], dtype=torch.int32).view(torch.float32)  # 2**-149, a denormal, made without arithmetic
    return (smallest * 1.0).item() == 0.0


@contextmanager
def denormals_flushed() -> Iterator[None]:
    """Inside: CPU arithmetic as in a lab kernel on the CPU (denormals flushed, :func:`labutils.start`); after:
    the mode before. The grader judges a check's INPUTS this way, so that they equal the kernel's."""
    before = denormals_are_flushed()
    torch.set_flush_denormal(True)
    try:
        yield
    finally:
        torch.set_flush_denormal(before)


def env_report(device: torch.device, data_source: str | None = None) -> str:
    """One line: Python, torch, device (with GPU name), threads, and the data source if known."""
    dev = str(device)
    if device.type == "cuda":
        dev += f" ({torch.cuda.get_device_name(device)})"
    parts = [
        f"python {platform.python_version()}",
        f"torch {torch.__version__}",
        f"device {dev}",
        f"threads {torch.get_num_threads()}",
    ]
    if data_source:
        parts.append(f"data {data_source}")
    return " | ".join(parts)
