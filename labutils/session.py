"""``start``: the one call at the top of every notebook."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch

from labutils import device as _device
from labutils import plot, profiles, results


def start(
    notebook: str,
    profile: str | None,
    seed: int = 0,
    *,
    ci: Mapping[str, Any] | None = None,
    full: Mapping[str, Any] | None = None,
    device: str | None = None,
    deterministic: bool = False,
    threads: int | None = None,
) -> profiles.Config:
    """Resolve the profile, seed everything, pick the device, set the plot style, print the report.

    ``profile`` ``"auto"`` (or None) is ``full`` on a CUDA/MPS device and ``ci`` on a CPU; a second
    printed line says which profile was chosen and how to change it.

    Returns the profile's parameters as a :class:`~labutils.profiles.Config` with ``profile``,
    ``seed``, ``device`` and ``generator`` (a seeded CPU ``torch.Generator``) added.

    ``threads`` sets torch's CPU threads (``None`` keeps torch's default, one per core). Networks of a
    few thousand weights run fastest on one thread: their operations are too small to split, and threads
    that wait for each other only cost time, most of all on a shared machine.
    """
    if threads is not None:
        if threads < 1:
            raise ValueError(f"threads={threads}: give a positive number of CPU threads, or None for torch's default")
        torch.set_num_threads(threads)
    results.set_notebook(notebook)
    cfg = profiles.resolve(profile, ci=ci or {}, full=full or {})
    results.start_run(cfg.profile)
    cfg.seed = seed
    cfg.generator = _device.seed_everything(seed, deterministic=deterministic)
    cfg.device = _device.pick_device(device)
    if cfg.device.type == "cpu":
        _device.flush_denormals()
    plot.use_style()
    print(f"{notebook} | profile {cfg.profile} | seed {seed} | {_device.env_report(cfg.device)}")
    print(profiles.explain(profile))
    return cfg
