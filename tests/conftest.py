"""Shared test set-up: offline data, a private build folder, one CPU thread for exact reproducibility."""

from __future__ import annotations

import os

import pytest
import torch

from labutils.tools import profile_default

os.environ.setdefault("GENLABS_OFFLINE", "1")


@pytest.fixture
def build(tmp_path, monkeypatch):
    """A private build directory for tests that write results, caches or checkpoints."""
    monkeypatch.setenv("GENLABS_BUILD", str(tmp_path / "build"))
    return tmp_path / "build"


@pytest.fixture(autouse=True)
def _one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def pytest_collection_modifyitems(config, items):
    """Run the notebooks' CI executions first, before the tests that reuse their cached trainings; under
    pytest-xdist (``make test``: ``-n 2 --dist worksteal``), split them between the workers by expected run time.

    worksteal hands each of N workers one contiguous 1/N of the list, then lets an idle worker steal from the
    tail of another's queue. So the runs are dealt longest first, each to the worker with less expected time
    (profile_default.CPU_TIMES), and each worker's share opens its slice of the list, followed by quick tests.
    Without xdist the runs simply go longest first.
    """
    first = "tests/notebooks/test_notebooks.py::test_notebook_runs"
    runs = sorted((item for item in items if item.nodeid.startswith(first)),
                  key=lambda item: -profile_default.ci_seconds(item.callspec.params["path"].stem))
    rest = [item for item in items if not item.nodeid.startswith(first)]
    workers = int(getattr(config, "workerinput", {}).get("workercount", 1))
    shares: list[list] = [[] for _ in range(workers)]
    load = [0.0] * workers
    for item in runs:
        k = load.index(min(load))
        shares[k].append(item)
        load[k] += profile_default.ci_seconds(item.callspec.params["path"].stem)
    size = len(items) // workers  # worksteal's slice per worker (the last one takes the remainder)
    if workers == 1 or any(len(share) > size for share in shares):
        items[:] = runs + rest
        return
    ordered = []
    for share in shares[:-1]:
        fill = size - len(share)
        ordered += share + rest[:fill]
        rest = rest[fill:]
    items[:] = ordered + shares[-1] + rest
