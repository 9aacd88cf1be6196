"""Batch-grading throughput: 20 generated submissions graded with 1 and with 2 workers.

Each submission is the synthetic two-exercise notebook of ``labutils.grade.synthetic`` with a short
compute cell (matrix products); 15 are solved and 5 are handed back untouched. Every run is a fresh
papermill process with its own kernel, as in real grading. Prints one line per worker count and the
speed-up side by side, with the CPU seconds each submission cost (papermill + kernel; this
figure depends much less on what else the machine is doing than the wall times do).

    .venv/bin/python benchmarks/grading.py [--submissions 20] [--reps 600] [--workers 1 2]
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import sys
import tempfile
import time
from pathlib import Path

import nbformat

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from labutils.tools.grade import runner  # noqa: E402
from tests.fixtures import synthetic  # noqa: E402


def _children_cpu() -> float:
    """CPU seconds (user + system) used so far by finished child processes (papermill and kernels)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def make_batch(root: Path, n: int, reps: int) -> tuple[Path, Path]:
    """The instructor folder and ``n`` submissions (every fourth one unsolved) under ``root``."""
    instructor = synthetic.demo_instructor(root / "instructor", reps=reps)
    for i in range(n):
        nb = synthetic.demo_submission(reps=reps, solve=i % 4 != 3)
        path = root / "subs" / f"student{i:02d}" / "01_demo.ipynb"
        path.parent.mkdir(parents=True)
        nbformat.write(nb, str(path))
    return instructor.parent, root / "subs"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--submissions", type=int, default=20)
    p.add_argument("--reps", type=int, default=600, help="matrix products in the compute cell")
    p.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    p.add_argument("--timeout", type=float, default=300.0)
    args = p.parse_args(argv)
    cores = runner.default_workers()
    print(f"{platform.processor() or platform.machine()}, {cores} cores available, "
          f"load average {os.getloadavg()[0]:.1f}, python {platform.python_version()}")
    results = []
    with tempfile.TemporaryDirectory(prefix="genlabs-grading-bench-") as tmp:
        instructor, subs = make_batch(Path(tmp), args.submissions, args.reps)
        for workers in args.workers:
            cpu0 = _children_cpu()
            start = time.perf_counter()
            rows = runner.grade_batch(subs, Path(tmp) / f"out{workers}", instructor_dir=instructor,
                                      workers=workers, timeout=args.timeout)
            wall = time.perf_counter() - start
            cpu = _children_cpu() - cpu0
            points = sum(r.points for r in rows)
            expected = 6 * sum(i % 4 != 3 for i in range(args.submissions))
            if points != expected:
                raise RuntimeError(f"{workers} workers: {points:g} points graded, expected {expected}")
            results.append((workers, wall, cpu))
    base = results[0][1]
    print(f"\n{args.submissions} submissions, compute cell of {args.reps} 256x256 matrix products; "
          f"load average now {os.getloadavg()[0]:.1f}")
    print("| workers | wall time (s) | wall s per submission | CPU s per submission | speed-up |")
    print("|---|---|---|---|---|")
    for workers, wall, cpu in results:
        print(f"| {workers} | {wall:.1f} | {wall / args.submissions:.2f} | {cpu / args.submissions:.2f} "
              f"| {base / wall:.2f}x |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
