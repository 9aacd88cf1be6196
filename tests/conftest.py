"""Shared test set-up: offline data, a private build folder, one CPU thread for exact reproducibility."""

from __future__ import annotations

import os

import pytest
import torch

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
    """Run the notebooks' CI executions before the tests that reuse their cached trainings."""
    first = "tests/notebooks/test_notebooks.py::test_notebook_runs"
    items.sort(key=lambda item: 0 if item.nodeid.startswith(first) else 1)
