"""The README's tables of full-run numbers, generated from committed result files, never typed by hand.

A full run of a lab writes its recorded results to ``build/results/<notebook>.json``. Numbers that the
README quotes are copied from there into ``docs/results/<notebook>-full.json`` on purpose, and each README
block between ``<!-- generated: <notebook> full -->`` and ``<!-- end generated -->`` is rendered from that
file. ``tests/unit/test_readme_tables.py`` fails when a block differs from what its file gives.

    python -m labutils.tools.readme_tables --save 06_mode_collapse     # build/results -> docs/results (full run)
    python -m labutils.tools.readme_tables --write                     # re-render README's generated blocks
"""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path
from typing import Any

from labutils.files import atomic_write

REPO = Path(__file__).resolve().parents[2]
README = REPO / "README.md"
RESULTS = REPO / "docs" / "results"
BLOCK = re.compile(r"(<!-- generated: (\S+) full -->\n)(.*?)(<!-- end generated -->)", re.DOTALL)
SAVED = {"06_mode_collapse": ("best_remedy", "grid", "profile", "remedies_ring_per_seed"),
         "09_which_generator": ("data_source", "n_draws", "n_samples_per_draw", "profile", "scores_mean", "scores_se")}
METRICS = (("frechet", "Fréchet distance", 0), ("precision", "precision", 2), ("recall", "recall", 2),
           ("density", "density", 2), ("coverage", "coverage", 2), ("effective_classes", "effective classes", 1))


def save(notebook: str, results: dict[str, Any]) -> Path:
    """Copy the README's numbers of a full run of ``notebook`` into ``docs/results/<notebook>-full.json``."""
    if results.get("profile") != "full":
        raise ValueError(f"{notebook}: build/results holds a {results.get('profile')!r} run, not a full one: "
                         f"run `make run PROFILE=full NB=notebooks/{notebook}.ipynb` first")
    path = RESULTS / f"{notebook}-full.json"
    with atomic_write(path, "w") as f:
        json.dump({k: results[k] for k in SAVED[notebook]}, f, indent=1, sort_keys=True)
        f.write("\n")
    return path


def render_09(saved: dict[str, Any]) -> str:
    """09's yardstick table: one row per generator, each score as mean ± SE over the draws."""
    mean, se = saved["scores_mean"], saved["scores_se"]
    lines = ["| samples | " + " | ".join(label for _, label, _ in METRICS) + " |",
             "|---|" + "---:|" * len(METRICS)]
    for row in sorted(mean, key=lambda name: mean[name]["frechet"]):
        cells = [f"{mean[row][key]:.{digits}f} ± {se[row][key]:.1g}" for key, _, digits in METRICS]
        lines.append(f"| {row} | " + " | ".join(cells) + " |")
    lines.append(f"\nFull profile on this 2-core CPU, {saved['n_draws']} draws of {saved['n_samples_per_draw']} "
                 f"samples each against as many held-out digits; data: {saved['data_source']}.")
    return "\n".join(lines) + "\n"


# Published rows for the ring of 8 Gaussians (modes of 8, high-quality %), as issue 18 quotes them: the unrolled
# GAN in VEEGAN's table (Srivastava et al. 2017), PacGAN2 in PacGAN's (Lin et al. 2018).
PUBLISHED_RING = {"unrolled": "unrolled GAN, VEEGAN: 7.6 / 35.6", "PacGAN": "PacGAN2: 7.9 / 95.6"}


def render_06(saved: dict[str, Any]) -> str:
    """06's remedy table on the ring: per method, mean and range over the seeds of modes, strict modes, HQ share."""
    runs = saved["remedies_ring_per_seed"]
    methods = list(dict.fromkeys(run["method"] for run in runs))
    seeds = sorted({run["seed"] for run in runs})

    def spread(values: list[float], digits: int) -> str:
        mean = sum(values) / len(values)
        return f"{mean:.{digits}f} ({min(values):.{digits}f}-{max(values):.{digits}f})"

    lines = ["| recipe | modes (of 8) | modes, strict | high-quality % | minutes per seed | published (modes / HQ %) |",
             "|---|---:|---:|---:|---:|---|"]
    for method in methods:
        mine = [run for run in runs if run["method"] == method]
        lines.append(f"| {method}{' (best)' if method == saved['best_remedy'] else ''} | "
                     f"{spread([r['modes'] for r in mine], 1)} | {spread([r['modes_strict'] for r in mine], 1)} | "
                     f"{spread([r['high_quality'] for r in mine], 1)} | "
                     f"{sum(r['seconds'] for r in mine) / len(mine) / 60:.1f} | {PUBLISHED_RING.get(method, '-')} |")
    grid = "; ".join(f"{name}: {g['modes_strict']} strict modes of 25, {g['high_quality']:.1f}% HQ"
                     for name, g in saved["grid"].items())
    lines.append(f"\nFull profile on this 2-core CPU, one core, seeds {', '.join(map(str, seeds))}: mean (min-max) "
                 f"over the seeds, 20,000 generator steps each. The 5x5 grid, seed 0: {grid}.")
    return "\n".join(lines) + "\n"


RENDERERS = {"06_mode_collapse": render_06, "09_which_generator": render_09}


def rendered(readme: str) -> str:
    """``readme`` with every generated block re-rendered from its committed results file."""
    def block(match: re.Match) -> str:
        notebook = match.group(2)
        saved = json.loads((RESULTS / f"{notebook}-full.json").read_text())
        return match.group(1) + RENDERERS[notebook](saved) + match.group(4)
    return BLOCK.sub(block, readme)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m labutils.tools.readme_tables", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--save", metavar="NOTEBOOK", help="copy a full run's numbers from build/results")
    parser.add_argument("--write", action="store_true", help="re-render README's generated blocks")
    args = parser.parse_args(argv)
    if args.save:
        from labutils.results import load
        print(f"saved {save(args.save, load(args.save))}")
    if args.write:
        with atomic_write(README, "w") as f:
            f.write(rendered(README.read_text()))
        print(f"wrote {README}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
