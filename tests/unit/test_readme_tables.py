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


def test_the_remedy_table_gives_mean_and_range_over_seeds():
    runs = [dict(method=m, seed=s, modes=8 - (m == "GAN") * s, modes_strict=8 - (m == "GAN") * 2 * s,
                 high_quality=90.0 + s, seconds=60.0 * (1 + 14 * (m == "unrolled")))
            for s in (0, 1) for m in ("GAN", "unrolled")]
    table = readme_tables.render_06({"remedies_ring_per_seed": runs, "best_remedy": "unrolled", "profile": "full",
                                     "grid": {"GAN": {"modes_strict": 3, "high_quality": 12.34}}})
    assert "| GAN | 7.5 (7.0-8.0) | 7.0 (6.0-8.0) | 90.5 (90.0-91.0) | 1.0 | - |" in table
    assert "| unrolled (best) | 8.0 (8.0-8.0) | 8.0 (8.0-8.0) | 90.5 (90.0-91.0) | 15.0 | unrolled GAN, VEEGAN" in table
    assert "seeds 0, 1" in table and "GAN: 3 strict modes of 25, 12.3% HQ" in table
