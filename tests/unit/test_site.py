"""labutils/tools/site.py: a tiny executed notebook becomes a page with its figure, local MathJax, checks, downloads."""

import base64
import io
import re

import matplotlib
import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

from labutils.tools import site

matplotlib.use("Agg")


def _png() -> str:
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(2, 2))
    ax.plot([0, 1], [0, 1])
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode()


def _executed(checks: str) -> nbformat.NotebookNode:
    nb = new_notebook(metadata={"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
                                "language_info": {"name": "python"}, "papermill": {"parameters": {"PROFILE": "ci"}}})
    nb.cells = [
        new_markdown_cell("# 00 · A tiny lab\n\nThe loss is "
                          "$$\\mathcal{L} = \\frac{1}{B}\\sum_i \\lVert x_i \\rVert^2$$"),
        new_code_cell("PROFILE = 'full'", metadata={"tags": ["parameters"]}),
        new_markdown_cell("**Question.** Why?\n\n### BEGIN SOLUTION\nBecause the loss fell.\n### END SOLUTION\n"),
        new_code_cell("# NBVAL_CHECK_OUTPUT\ncheck(...)", execution_count=2, outputs=[
            new_output("stream", name="stdout", text=checks)]),
        new_code_cell("plot()", execution_count=3, outputs=[
            new_output("display_data", data={"image/png": _png(), "text/plain": "<Figure>"}),
            new_output("display_data", data={"application/vnd.jupyter.widget-view+json": {"model_id": "x"},
                                             "text/plain": "IntSlider(value=3)"})]),
    ]
    return nb


def test_parses_check_lines_and_old_style_verdicts():
    nb = _executed("check loss_fell: 0.52 < 0.90 (±0.05: 3 SE over seeds) passed\n"
                   "check knn: 0.4 > 0.5 (±0.02: binomial SE) FAILED\nthe stress decreased: True\nnoise: 3\n")
    rows = site.check_rows(nb)
    assert [(r["name"], r["verdict"]) for r in rows] == [("loss_fell", "passed"), ("knn", "FAILED"), ("", "passed")]
    assert rows[0]["claim"] == "0.52 < 0.90" and rows[0]["tol"] == "±0.05"
    assert rows[2]["claim"] == "the stress decreased"
    assert site.ran_profile(nb) == "ci"


def test_network_loads_are_found():
    assert site.NETWORK_LOAD.search('<script src="https://cdn.example/mathjax.js"></script>')
    assert site.NETWORK_LOAD.search('<link rel="stylesheet" href="//fonts.example/css">')
    assert not site.NETWORK_LOAD.search('<script src="../_static/mathjax/tex-mml-chtml.js"></script>')
    assert not site.NETWORK_LOAD.search('<a href="https://example.org">a link a reader may follow</a>')


def test_a_tiny_executed_notebook_becomes_an_offline_page(tmp_path):
    pytest.importorskip("sphinx")
    pytest.importorskip("myst_nb")
    pytest.importorskip("sphinx_book_theme")
    executed, sources, mathjax = tmp_path / "executed", tmp_path / "notebooks", tmp_path / "mathjax"
    for d in (executed, sources, mathjax):
        d.mkdir()
    nb = _executed("check loss_fell: 0.52 < 0.90 (±0.05: 3 SE over seeds) passed\n")
    nbformat.write(nb, executed / "00_tiny.ipynb")
    nbformat.write(nb, sources / "00_tiny.ipynb")
    (mathjax / site.MATHJAX_ENTRY).write_text("/* stand-in for MathJax 3 */")
    out = tmp_path / "site"
    labs = site.build(executed, out, mathjax=mathjax, labs=["00_tiny", "01_missing"], sources_dir=sources)
    assert labs == ["00_tiny"]
    page = (out / "labs" / "00_tiny.html").read_text()
    index = (out / "index.html").read_text()
    assert "01_missing (not run yet)" in index and 'href="labs/00_tiny.html"' in index
    # the figure, as a file of the site
    images = re.findall(r'<img[^>]*src="\.\./(_images/[^"]+\.png)"', page)
    assert len(images) == 1 and (out / images[0]).is_file()
    assert "BEGIN SOLUTION" not in page and "A solution" in page and "Because the loss fell." in page
    assert "IntSlider" not in page  # a widget's text stand-in says nothing without a kernel
    # MathJax from the site itself, and the formula handed to it
    assert re.search(r'<script[^>]*src="\.\./_static/mathjax/tex-mml-chtml\.js', page)
    assert (out / "_static" / "mathjax" / site.MATHJAX_ENTRY).is_file()
    assert "\\mathcal{L}" in page and "$$" not in page
    # nothing loaded from the network, anywhere
    assert site.network_loads(out) == []
    # checked claims and downloads
    assert "Checked claims: 1 of 1 passed" in page and "✅ passed" in page and "loss_fell" in page
    downloads = re.findall(r'href="(\.\./_downloads/[^"]+\.ipynb)"', page)
    assert len(downloads) == 2 and all((out / "labs" / d).resolve().is_file() for d in downloads)
