"""Batch-grading cost, old grader against new, side by side in one run on the same submissions.

The same instructor notebook (tests/fixtures/synthetic.py: its check cells are plain assert cells when
run top to bottom, which is how the old grader runs them) and the same submissions (every fourth one
unsolved) are graded by

* ``old``: the grader of git revision ``--old-ref`` (checks run inside the student's kernel, no sandbox),
  extracted into a temporary folder (plus today's ``labutils/grading.py``, which the notebook imports);
* ``new``: this checkout's grader (bubblewrap sandbox, checks judged outside the kernel);
* ``new --no-sandbox``: the same without the sandbox, to show what the sandbox itself costs.

Each variant runs in a fresh Python process; the variants alternate round by round, so that a load
change on a shared machine hits them alike. Prints wall and CPU seconds per submission (CPU: the grading
process and every process below it: papermill, kernels, bwrap), and the CPU ratio to the old grader
(the wall times depend on what else the machine runs).

    .venv/bin/python benchmarks/grading.py [--submissions 20] [--reps 600] [--workers 2] [--rounds 2]
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat
import psutil

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.fixtures import synthetic  # noqa: E402

GRADE = """import resource, sys, time
from pathlib import Path
from labutils.tools.grade import runner
subs, out, inst = (Path(a) for a in sys.argv[1:4])
workers, sandbox = int(sys.argv[4]), sys.argv[5]
kw = {} if sandbox == "old" else {"use_sandbox": sandbox == "1"}
t = time.perf_counter()
rows = runner.grade_batch(subs, out, instructor_dir=inst, workers=workers, timeout=600, **kw)
wall = time.perf_counter() - t
own = resource.getrusage(resource.RUSAGE_SELF)
print(wall, own.ru_utime + own.ru_stime, sum(r.points for r in rows))
"""


def make_batch(root: Path, n: int, reps: int) -> tuple[Path, Path]:
    """The instructor folder and ``n`` submissions (every fourth one unsolved) under ``root``."""
    instructor = synthetic.demo_instructor(root / "instructor", reps=reps)
    for i in range(n):
        path = root / "subs" / f"student{i:02d}" / "01_demo.ipynb"
        path.parent.mkdir(parents=True)
        nbformat.write(synthetic.demo_submission(reps=reps, solve=i % 4 != 3), str(path))
    return instructor.parent, root / "subs"


def old_tree(ref: str, root: Path) -> Path:
    """``labutils`` of git revision ``ref`` under ``root``, with today's lab-facing ``labutils/grading.py``."""
    archive = subprocess.run(["git", "-C", str(REPO), "archive", ref, "labutils"], check=True, capture_output=True)
    root.mkdir(parents=True)
    subprocess.run(["tar", "-x", "-C", str(root)], input=archive.stdout, check=True)
    shutil.copy(REPO / "labutils" / "grading.py", root / "labutils" / "grading.py")
    return root


def grade(code_root: Path, subs: Path, out: Path, instructor: Path, workers: int,
          mode: str) -> tuple[float, float, float]:
    """(wall s, CPU s, points) of one batch graded by the grader under ``code_root`` in a fresh process.

    CPU: the grading process's own, plus the last CPU times seen (polled every 0.1 s) of every process
    below it. Polling, because a sandbox's processes are reaped inside its PID namespace, so their time
    never reaches ``RUSAGE_CHILDREN``; the same measure is used for every variant.
    """
    env = dict(os.environ, PYTHONPATH=str(code_root))
    proc = subprocess.Popen([sys.executable, "-c", GRADE, str(subs), str(out), str(instructor), str(workers), mode],
                            cwd=code_root, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    seen: dict[tuple[int, float], float] = {}
    root = psutil.Process(proc.pid)
    while proc.poll() is None:
        try:
            family = root.children(recursive=True)
        except psutil.Error:
            family = []
        for child in family:
            try:
                with child.oneshot():
                    t = child.cpu_times()
                    seen[(child.pid, child.create_time())] = t.user + t.system
            except psutil.Error:
                continue
        time.sleep(0.1)
    out_text = proc.stdout.read()
    if proc.returncode:
        raise RuntimeError(f"grading with {code_root} failed (exit code {proc.returncode})")
    wall, own_cpu, points = map(float, out_text.split()[-3:])
    return wall, own_cpu + sum(seen.values()), points


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--submissions", type=int, default=20)
    p.add_argument("--reps", type=int, default=600, help="matrix products in the compute cell")
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--old-ref", default="4394cb1", help="git revision of the old grader")
    args = p.parse_args(argv)
    print(f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, python "
          f"{platform.python_version()}, load average {os.getloadavg()[0]:.1f} at start")
    expected = 6 * sum(i % 4 != 3 for i in range(args.submissions))
    results: dict[str, list[tuple[float, float]]] = {"old": [], "new": [], "new --no-sandbox": []}
    with tempfile.TemporaryDirectory(prefix="genlabs-grading-bench-") as tmp:
        instructor, subs = make_batch(Path(tmp), args.submissions, args.reps)
        roots = {"old": old_tree(args.old_ref, Path(tmp) / "old"), "new": REPO, "new --no-sandbox": REPO}
        modes = {"old": "old", "new": "1", "new --no-sandbox": "0"}
        for r in range(args.rounds):
            for name in results:
                out = Path(tmp) / f"out-{r}-{modes[name]}"
                wall, cpu, points = grade(roots[name], subs, out, instructor, args.workers, modes[name])
                if points != expected:
                    raise RuntimeError(f"{name}: {points:g} points graded, expected {expected}")
                results[name].append((wall, cpu))
                print(f"round {r + 1} {name:17s} wall {wall:6.1f} s  CPU {cpu:6.1f} s  "
                      f"load {os.getloadavg()[0]:.1f}  {time.strftime('%H:%M:%S')}", flush=True)
    n = args.submissions
    print(f"\n{n} submissions, compute cell of {args.reps} 256x256 matrix products, {args.workers} workers, "
          f"{args.rounds} rounds; load average now {os.getloadavg()[0]:.1f}")
    print("| grader | wall s / submission (per round) | CPU s / submission (per round) | CPU vs old |")
    print("|---|---|---|---|")
    old_cpu = sum(c for _, c in results["old"])
    for name, runs in results.items():
        walls = ", ".join(f"{w / n:.2f}" for w, _ in runs)
        cpus = ", ".join(f"{c / n:.2f}" for _, c in runs)
        print(f"| {name} | {walls} | {cpus} | {sum(c for _, c in runs) / old_cpu:.2f}x |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
