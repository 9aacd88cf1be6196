"""Figures in one style: image grids, curves, labelled scatters, 2-D densities, snapshot strips.

Every helper draws on a given ``ax`` (or makes one), sets a title and labelled axes, and returns
the axes; :func:`save` writes a figure to ``build/figures/<notebook>/<name>.png``.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path

import matplotlib as mpl
import matplotlib.pyplot as plt
import numpy as np

from labutils import results
from labutils.arrays import float64

DIGIT_COLORS = plt.get_cmap("tab10")


def use_style() -> None:
    """The collection's style: white grid, readable fonts, fixed DPI so saved figures are comparable."""
    mpl.rcParams.update({
        "figure.dpi": 100, "savefig.dpi": 100, "savefig.bbox": "tight",
        "axes.grid": True, "grid.alpha": 0.3, "axes.titlesize": 11, "axes.labelsize": 10,
        "axes.spines.top": False, "axes.spines.right": False, "legend.frameon": False,
        "image.cmap": "gray", "svg.hashsalt": "genlabs",
    })


def _axes(ax: plt.Axes | None, figsize=(5, 4)) -> plt.Axes:
    return ax if ax is not None else plt.subplots(figsize=figsize)[1]


def save(fig: plt.Figure, name: str) -> Path:
    """Save ``fig`` as ``build/figures/<notebook>/<name>.png`` and return the path."""
    try:
        folder = results.current_notebook()
    except RuntimeError:
        folder = "scratch"
    path = results.build_dir() / "figures" / folder / f"{name}.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, metadata={"Software": None})
    return path


def png_bytes(fig: plt.Figure) -> bytes:
    """The figure as PNG bytes (for an ``ipywidgets.Image``), then closed: widgets redraw without piling up figures."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    plt.close(fig)
    return buffer.getvalue()


def image_grid(images, nrow: int = 8, *, ax: plt.Axes | None = None, title: str = "",
               pad: int = 2, vmin: float = 0.0, vmax: float = 1.0) -> plt.Axes:
    """Tile images (N, 1, H, W) or (N, H, W) into a grid with ``nrow`` images per row."""
    x = float64(images).numpy()
    if x.ndim == 4:
        x = x[:, 0]
    if x.ndim != 3:
        raise ValueError(f"images must be (N, 1, H, W) or (N, H, W), got shape {x.shape}")
    n, h, w = x.shape
    rows = -(-n // nrow)
    canvas = np.full((rows * (h + pad) + pad, nrow * (w + pad) + pad), vmin + 0.15 * (vmax - vmin), dtype=np.float32)
    for i in range(n):
        r, c = divmod(i, nrow)
        canvas[pad + r * (h + pad):pad + r * (h + pad) + h, pad + c * (w + pad):pad + c * (w + pad) + w] = x[i]
    ax = _axes(ax, (nrow * 0.6, rows * 0.6 + 0.4))
    ax.imshow(canvas, cmap="gray_r", vmin=vmin, vmax=vmax, interpolation="nearest")
    ax.set_title(title)
    ax.set_axis_off()
    return ax


def curves(series: dict[str, Sequence[float]], *, x: Sequence[float] | None = None, ax: plt.Axes | None = None,
           title: str = "", xlabel: str = "step", ylabel: str = "loss", logy: bool = False) -> plt.Axes:
    """Several named curves on one axes, with a legend."""
    ax = _axes(ax)
    for label, ys in series.items():
        ys = float64(ys).numpy()
        ax.plot(np.arange(len(ys)) if x is None else float64(x).numpy(), ys, label=label)
    ax.set(title=title, xlabel=xlabel, ylabel=ylabel)
    if logy:
        ax.set_yscale("log")
    if len(series) > 1:
        ax.legend()
    return ax


def scatter_labels(Y, labels, *, ax: plt.Axes | None = None, title: str = "", s: float = 4,
                   xlabel: str = "dimension 1", ylabel: str = "dimension 2", legend: bool = True) -> plt.Axes:
    """2-D points (N, 2) coloured by integer label (N,), one legend entry per label."""
    Y, labels = float64(Y).numpy(), float64(labels).numpy().astype(int)
    ax = _axes(ax)
    for c in np.unique(labels):
        m = labels == c
        ax.scatter(Y[m, 0], Y[m, 1], s=s, color=DIGIT_COLORS(int(c) % 10), label=str(c), linewidths=0)
    ax.set(title=title, xlabel=xlabel, ylabel=ylabel)
    if legend:
        ax.legend(markerscale=3, fontsize=7, loc="best", ncol=2, title="label", title_fontsize=7)
    return ax


def density_2d(samples, *, centers=None, ax: plt.Axes | None = None, title: str = "", lim: float = 3.0,
               bins: int = 120) -> plt.Axes:
    """Samples (N, 2) as a 2-D histogram, with the target's mode centres (K, 2) marked as red x."""
    s = float64(samples).numpy()
    ax = _axes(ax, (4, 4))
    ax.hist2d(s[:, 0], s[:, 1], bins=bins, range=[[-lim, lim], [-lim, lim]], cmap="Blues", cmin=1)
    if centers is not None:
        c = float64(centers).numpy()
        ax.scatter(c[:, 0], c[:, 1], marker="x", color="red", s=30, label="target modes")
        ax.legend(loc="upper right", fontsize=7)
    ax.set(title=title, xlabel="$x_1$", ylabel="$x_2$", xlim=(-lim, lim), ylim=(-lim, lim), aspect="equal")
    return ax
