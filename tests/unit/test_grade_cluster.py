"""The cluster paths, run for real: a dask.distributed LocalCluster (worker processes, sandbox on) and the
Slurm recipe's ``list`` / ``grade --task`` / ``gradebook`` sequence (separate processes, no Slurm), each
giving a gradebook byte-identical to the local run's."""

from __future__ import annotations

import copy
import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from dask.distributed import Client, LocalCluster

from labutils.tools.grade import runner
from tests.fixtures import hostile, synthetic

REPO = Path(__file__).resolve().parents[2]


def _batch(root: Path) -> tuple[Path, Path]:
    instructor = synthetic.demo_instructor(root / "instructor")
    partial = copy.deepcopy(hostile.honest())
    synthetic.cell(partial, "square-sol").source = "def square(x):\n    return x * x if isinstance(x, int) else 0 * x"
    cheat = hostile.cheats(hostile.Targets(instructor.parent, root / "out", root, "cluster", 9))["rewrite_pass"]
    for student, nb in {"alice": hostile.honest(), "bob": synthetic.demo_submission(solve=False), "carol": partial,
                        "mallory": cheat}.items():
        (root / "subs" / student).mkdir(parents=True)
        nbformat.write(nb, str(root / "subs" / student / "01_demo.ipynb"))
    return instructor.parent, root / "subs"


@pytest.mark.slow
def test_dask_cluster_and_job_array_give_the_local_gradebook(tmp_path):
    instructor, subs = _batch(tmp_path)
    local = runner.grade_batch(subs, tmp_path / "local", instructor_dir=instructor, workers=2, timeout=120)
    assert sum(r.points for r in local if r.student == "alice") == 6 and not any(
        r.points for r in local if r.student in ("bob", "mallory"))
    assert sum(r.points for r in local if r.student == "carol") == 4
    want = {name: (tmp_path / "local" / name).read_bytes() for name in ("gradebook.csv", "summary.md")}

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster, \
            Client(cluster) as client:
        pids = set(client.run(os.getpid).values())
        assert os.getpid() not in pids and len(pids) == 2

        def dask_map(fn, items):
            return client.gather(client.map(fn, items, pure=False))

        runner.grade_batch(subs, tmp_path / "dask", instructor_dir=instructor, timeout=120, map=dask_map)
    for name, content in want.items():
        assert (tmp_path / "dask" / name).read_bytes() == content, name

    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]))
    grade = [sys.executable, "-m", "labutils.grade"]
    listed = subprocess.run([*grade, "list", str(subs)], capture_output=True, text=True, env=env, check=True)
    tasks = len(listed.stdout.splitlines())
    for task in range(tasks):  # what each task of `sbatch --array=0-3` runs
        subprocess.run([*grade, "grade", str(subs), "--out", str(tmp_path / "array"), "--task", str(task),
                        "--instructor", str(instructor), "--timeout", "120"], env=env, check=True, capture_output=True)
    subprocess.run([*grade, "gradebook", str(tmp_path / "array")], env=env, check=True, capture_output=True)
    assert tasks == 4
    for name, content in want.items():
        assert (tmp_path / "array" / name).read_bytes() == content, name
