"""Benchmark: one notebook's CI run under OpenMP wait settings, on an idle CPU or with one core kept busy.

Runs ``notebooks/02_autoencoder.ipynb`` (2 torch threads) with each setting in turn, its training caches
removed first so every run trains, and prints the wall time of each, side by side:

    .venv/bin/python benchmarks/omp_wait_policy.py                 # idle machine
    .venv/bin/python benchmarks/omp_wait_policy.py --busy-core     # a busy-loop process holds one core

A setting is ``POLICY`` or ``POLICY:SPINCOUNT`` (``OMP_WAIT_POLICY``; libgomp's ``GOMP_SPINCOUNT``);
an empty policy means the runtime's default (libgomp prints "Invalid value for environment variable
OMP_WAIT_POLICY" and then uses its default).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

from labutils.results import build_dir
from labutils.tools import notebooks

NOTEBOOK = notebooks.NOTEBOOKS / "02_autoencoder.ipynb"


def run_once(setting: str, out: Path) -> float:
    """Wall seconds of one CI-profile run of the notebook with ``setting`` ("POLICY[:SPINCOUNT]")."""
    policy, _, spin = setting.partition(":")
    for cache in list((build_dir() / "cache").glob("ae-*")) + list((build_dir() / "cache").glob("dae-*")):
        cache.unlink()
    env = {"OMP_WAIT_POLICY": policy, **({"GOMP_SPINCOUNT": spin} if spin else {})}
    start = time.perf_counter()
    notebooks.execute(NOTEBOOK, out / NOTEBOOK.name, extra_env=env)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("settings", nargs="*", default=["", ":1000", "PASSIVE"])
    parser.add_argument("--busy-core", action="store_true", help="keep one core busy with a Python busy loop")
    parser.add_argument("--out", type=Path, default=build_dir() / "benchmarks")
    args = parser.parse_args()
    burner = subprocess.Popen([sys.executable, "-c", "while True: pass"]) if args.busy_core else None
    try:
        print(f"# {NOTEBOOK.name}, CI profile, {os.cpu_count()} CPUs, one core busy: {args.busy_core}")
        for setting in args.settings:
            wall = run_once(setting, args.out)
            policy, _, spin = setting.partition(":")
            print(f"OMP_WAIT_POLICY={policy or '(default)':<10} GOMP_SPINCOUNT={spin or '(default)':<10} "
                  f"{wall:7.1f} s wall   load {os.getloadavg()[0]:.2f}", flush=True)
    finally:
        if burner:
            burner.kill()


if __name__ == "__main__":
    main()
