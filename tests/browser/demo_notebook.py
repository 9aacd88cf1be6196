"""A small widget notebook to check the browser test itself (``run_browser_test.py --demo VARIANT``).

Variants, and what the browser test must say about each:
- ``ok``: two tqdm.auto bars (one closes when done, ``leave=False``) and an ``interact`` latent explorer
  (sliders "z1", "z2") drawing a Gaussian blob at (z1, z2): passes.
- ``error``: as ``ok`` plus a cell that raises: fails ("output(s) show an error").
- ``frozen``: the slider's image ignores the slider: fails ("the image to change").
- ``no-progress``: no tqdm bar: fails ("no tqdm progress bar").
"""

from __future__ import annotations

from pathlib import Path

import nbformat

VARIANTS = ("ok", "error", "frozen", "no-progress")

PROGRESS = """\
import time

from tqdm.auto import tqdm

for _ in tqdm(range(20), desc="training"):
    time.sleep(0.02)
for _ in tqdm(range(20), desc="closed when done", leave=False):  # gone after the run: counted while shown
    time.sleep(0.02)"""

EXPLORER = """\
import ipywidgets as widgets
import matplotlib.pyplot as plt
import numpy as np


def show(z1: float = 0.0, z2: float = 0.0) -> None:
    grid = np.linspace(-3, 3, 64)
    cx, cy = {center}
    fig, ax = plt.subplots(figsize=(3, 3))
    ax.imshow(np.exp(-((grid[None, :] - cx) ** 2) - (grid[:, None] - cy) ** 2), cmap="gray", extent=(-3, 3, -3, 3))
    ax.set(title="decoded blob", xlabel="z1", ylabel="z2")
    plt.show()


widgets.interact(show, z1=widgets.FloatSlider(0.0, min=-2, max=2, step=0.1, description="z1"),
                 z2=widgets.FloatSlider(0.0, min=-2, max=2, step=0.1, description="z2"));"""

RAISES = 'raise RuntimeError("this cell fails on purpose")'


def write_demo(path: Path, variant: str = "ok") -> Path:
    """Write the ``variant`` demo notebook to ``path`` (proper kernelspec metadata) and return ``path``."""
    if variant not in VARIANTS:
        raise ValueError(f"unknown demo variant {variant!r}: choose one of {', '.join(VARIANTS)}")
    center = "0.0, 0.0" if variant == "frozen" else "z1, z2"
    cells = [nbformat.v4.new_markdown_cell(f"# Browser-test demo ({variant})\nA bar, then a latent explorer.")]
    if variant != "no-progress":
        cells.append(nbformat.v4.new_code_cell(PROGRESS))
    cells.append(nbformat.v4.new_code_cell(EXPLORER.replace("{center}", center)))
    if variant == "error":
        cells.append(nbformat.v4.new_code_cell(RAISES))
    nb = nbformat.v4.new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.metadata["language_info"] = {"name": "python"}
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)
    return path
