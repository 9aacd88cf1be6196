"""labutils.tools.readme_tables: the README's full-run tables are what the committed result files give."""

from __future__ import annotations

import json

import pytest

from labutils.tools import readme_tables


def test_readme_blocks_match_their_committed_results():
    readme = readme_tables.README.read_text()
    assert readme_tables.BLOCK.search(readme), "the README has no generated block"
    assert readme_tables.rendered(readme) == readme, "run `python -m labutils.tools.readme_tables --write`"


def test_a_hand_edited_number_is_caught(tmp_path, monkeypatch):
    readme = readme_tables.README.read_text()
    saved = json.loads((readme_tables.RESULTS / "09_which_generator-full.json").read_text())
    row = next(iter(saved["scores_mean"]))
    saved["scores_mean"][row]["frechet"] += 1.0  # the table typed by hand after the run
    (tmp_path / "09_which_generator-full.json").write_text(json.dumps(saved))
    monkeypatch.setattr(readme_tables, "RESULTS", tmp_path)
    assert readme_tables.rendered(readme) != readme


def test_only_a_full_run_is_saved():
    with pytest.raises(ValueError, match="not a full one"):
        readme_tables.save("09_which_generator", {"profile": "ci"})
