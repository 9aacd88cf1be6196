"""labutils.files.atomic_write: a failed write leaves the old file whole and no temporary file behind."""

from __future__ import annotations

import json

import pytest
import torch

from labutils import files, results
from labutils.train import checkpoint


def test_a_write_that_fails_midway_leaves_the_old_file_untouched(tmp_path):
    path = tmp_path / "ckpt.pt"
    checkpoint.save_atomic({"step": 1, "w": torch.ones(3)}, path)

    class Boom:
        def __reduce__(self):
            raise RuntimeError("disk full halfway")

    with pytest.raises(RuntimeError, match="halfway"):
        checkpoint.save_atomic({"step": 2, "w": torch.zeros(3), "x": Boom()}, path)
    assert torch.load(path, weights_only=True)["step"] == 1  # an in-place write would have truncated it
    assert [p.name for p in tmp_path.iterdir()] == ["ckpt.pt"]  # no temporary file left


def test_the_new_content_appears_only_by_rename(tmp_path, monkeypatch):
    path = tmp_path / "r.json"
    path.write_text("{}")
    seen = []
    real_replace = files.os.replace

    def spy(src, dst):
        seen.append((json.loads(open(dst).read()), json.loads(open(src).read())))  # old at dst, new at src
        return real_replace(src, dst)

    monkeypatch.setattr(files.os, "replace", spy)
    with files.atomic_write(path, "w") as f:
        json.dump({"a": 1}, f)
    assert seen == [({}, {"a": 1})] and json.loads(path.read_text()) == {"a": 1}
    with pytest.raises(ValueError, match="mode"):
        with files.atomic_write(path, "a"):
            pass


def test_results_of_a_fresh_run_do_not_keep_stale_values(build):
    import labutils

    labutils.start("99_demo", "ci", 0)
    results.record("old", 1.0)
    labutils.start("99_demo", "ci", 0)
    results.record("new", 2.0)
    assert results.load("99_demo") == {"new": 2.0, "profile": "ci"}
