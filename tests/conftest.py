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
    """Run the notebooks' CI executions first, longest first, before the tests that reuse their cached trainings.

    Longest first: with two workers (pytest-xdist's worksteal) the long 06 run overlaps all the short ones,
    instead of starting last and running alone.
    """
    first = "tests/notebooks/test_notebooks.py::test_notebook_runs"

    def order(item) -> tuple[int, float]:
        if not item.nodeid.startswith(first):
            return (1, 0.0)
        return (0, -profile_default.ci_seconds(item.callspec.params["path"].stem))

    items.sort(key=order)
