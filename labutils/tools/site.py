"""``make site``: the course website, built by Sphinx + myst-nb + the Sphinx Book Theme from ``make run``'s outputs.

    python -m labutils.tools.site [--notebooks build/notebooks] [--out build/site] [--mathjax DIR]

The executed notebooks in ``build/notebooks/`` (either profile) are rendered as they are: nothing runs
again. The builder writes the Sphinx sources into ``build/site-src/`` and then runs Sphinx on them:

- ``index.md``: what the labs are, a table of the labs (those not executed yet are listed as
  "not run yet"), and the lecture map (``docs/site/lecture_map.md``);
- ``labs/NN_name.ipynb``: a copy of each executed notebook with one note added under its title: the
  profile it ran in, links to download the lab (as committed) and the executed copy, and a table of its
  checked claims (the ``check NAME: ... passed`` lines of its outputs); widget views are dropped (their
  text stand-ins say nothing without a kernel); written answers (``### BEGIN/END SOLUTION``) go in a box;
- ``_static/mathjax/``: MathJax 3 (``--mathjax``: its ``es5`` folder, from npm's ``mathjax`` package;
  the Makefile installs it into ``build/mathjax`` when missing), so maths renders with no network.

After the build, every page is scanned: a script, stylesheet, image or frame loaded from the network fails
the build (the site has to work offline). Configuration: ``docs/site/conf.py``. No lab imports this.
"""

from __future__ import annotations

import argparse
import copy
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat

REPO = Path(__file__).resolve().parents[2]
CONF_DIR = REPO / "docs" / "site"
MATHJAX_ENTRY = "tex-mml-chtml.js"
MATHJAX_ENV = "GENLABS_MATHJAX"
CHECK_LINE = re.compile(r"^check (?P<name>[^:\s]+): (?P<claim>.*?) \((?P<tol>±[^:]*): (?P<why>.*)\) "
                        r"(?P<verdict>passed|FAILED)\s*$", re.MULTILINE)
VERDICT_LINE = re.compile(r"^(.+): (True|False)\s*$", re.MULTILINE)
# an instructor's written answer in a markdown cell (labutils.grade's markers): a box on the page, not two headings
SOLUTION = re.compile(r"^### BEGIN SOLUTION\s*$(.*?)^### END SOLUTION\s*$", re.MULTILINE | re.DOTALL)
WIDGET_MIME = "application/vnd.jupyter.widget-view+json"
# a resource the browser would fetch by itself (links a reader clicks are fine)
NETWORK_LOAD = re.compile(r"<(?:script|img|iframe|source|embed)\b[^>]*\bsrc=[\"'](?:https?:)?//"
                          r"|<link\b[^>]*\bhref=[\"'](?:https?:)?//[^>]*>"
                          r"|@import\s+url\([\"']?(?:https?:)?//", re.IGNORECASE)


def default_mathjax() -> Path | None:
    """MathJax 3's ``es5`` folder: ``$GENLABS_MATHJAX``, else what ``make site`` installed under build/."""
    candidates = [os.environ.get(MATHJAX_ENV), REPO / "build" / "mathjax" / "node_modules" / "mathjax" / "es5"]
    for c in candidates:
        if c and (Path(c) / MATHJAX_ENTRY).is_file():
            return Path(c)
    return None


def lab_names() -> list[str]:
    from labutils.tools.notebooks import lab_notebooks

    return [p.stem for p in lab_notebooks()]


def readme_rows(readme: Path = REPO / "README.md") -> dict[str, tuple[str, str]]:
    """From README's notebook table: notebook -> (what the student sees, CI-profile time)."""
    rows = {}
    for line in readme.read_text().splitlines():
        cols = [c.strip() for c in line.strip().strip("|").split("|")]
        m = re.search(r"`(\d\d_[a-z0-9_]+)`", cols[1]) if len(cols) >= 4 else None
        if m:
            rows[m.group(1)] = (cols[2], cols[3])
    return rows


def check_rows(nb) -> list[dict[str, str]]:
    """The checked claims an executed notebook printed, in order.

    ``labutils.check`` lines (``check NAME: value op bound (±tol: why) passed``) anywhere; and, for labs
    written before it, the ``...: True`` / ``...: False`` verdict lines of cells marked ``# NBVAL_CHECK_OUTPUT``.
    """
    rows = []
    for cell in nb.cells:
        checked = cell.cell_type == "code" and "# NBVAL_CHECK_OUTPUT" in cell.source
        for out in cell.get("outputs", []) if cell.cell_type == "code" else []:
            if out.get("output_type") != "stream":
                continue
            text = out.get("text", "")
            rows += [m.groupdict() for m in CHECK_LINE.finditer(text)]
            if checked:
                rows += [{"name": "", "claim": m.group(1), "tol": "", "why": "",
                          "verdict": "passed" if m.group(2) == "True" else "FAILED"}
                         for m in VERDICT_LINE.finditer(text) if not m.group(0).startswith("check ")]
    return rows


def ran_profile(nb) -> str:
    """The profile a notebook ran in: papermill's parameters, else the parameters cell, else unknown."""
    profile = nb.metadata.get("papermill", {}).get("parameters", {}).get("PROFILE")
    for cell in nb.cells:
        tags = cell.metadata.get("tags", [])
        if profile is None and cell.cell_type == "code" and ("parameters" in tags or "injected-parameters" in tags):
            m = re.search(r"^PROFILE\s*=\s*[\"'](\w+)[\"']", cell.source, re.M)
            profile = m.group(1) if m else None
    return profile or "unknown"


def _md_cell_text(s: str) -> str:
    return s.replace("|", "\\|").replace("\n", " ")


def lab_note(name: str, nb) -> str:
    """The note put under a lab's title: profile, downloads, checked claims."""
    checks = check_rows(nb)
    passed = sum(c["verdict"] == "passed" for c in checks)
    lines = [":::{note}",
             f"Executed in the **{ran_profile(nb)}** profile by `make run`. "
             f"Download the lab to run it yourself: {{download}}`{name}.ipynb <downloads/{name}.ipynb>` "
             f"(as committed), or the {{download}}`executed copy <downloads/{name}.executed.ipynb>` "
             "(with every output). The sliders need a running kernel: open the lab in JupyterLab.", ""]
    if checks:
        lines += [f"**Checked claims: {passed} of {len(checks)} passed** (each is printed again below by the cell "
                  "that checks it).", "",
                  "| claim | measured | tolerance | verdict |", "|---|---|---|---|"]
        lines += [f"| {'`' + c['name'] + '`' if c['name'] else ''} | {_md_cell_text(c['claim'])} | "
                  f"{_md_cell_text(c['tol'] + ': ' + c['why']) if c['tol'] else ''} | "
                  f"{'✅ passed' if c['verdict'] == 'passed' else '❌ FAILED'} |" for c in checks]
    else:
        lines.append("This run printed no checked claims.")
    return "\n".join([*lines, ":::"])


def page_notebook(name: str, executed) -> nbformat.NotebookNode:
    """The executed notebook as its page shows it: the note under the title, widget views dropped, the written
    answers between ``### BEGIN/END SOLUTION`` in a box titled "A solution"."""
    nb = copy.deepcopy(executed)
    for cell in nb.cells:
        if cell.cell_type == "markdown" and SOLUTION.search(cell.source):
            cell.source = SOLUTION.sub(lambda m: f":::{{admonition}} A solution\n{m.group(1).strip()}\n:::",
                                       cell.source)
        if cell.cell_type == "code":
            cell.outputs = [o for o in cell.outputs if WIDGET_MIME not in o.get("data", {})]
    title = next((i for i, c in enumerate(nb.cells) if c.cell_type == "markdown" and c.source.lstrip().startswith("#")),
                 -1)
    nb.cells.insert(title + 1, nbformat.v4.new_markdown_cell(lab_note(name, executed)))
    for cell in nb.cells:  # ids must be unique; the new cell's is random
        cell.pop("id", None)
    nb.nbformat, nb.nbformat_minor = 4, 4  # 4.4: no cell ids needed
    return nb


def _link(name: str, available: set[str], label: str | None = None) -> str:
    return f"{{doc}}`{label or name} <labs/{name}>`" if name in available else f"{label or name} (not run yet)"


def index_page(names: list[str], available: set[str], profiles: dict[str, str], checks: dict[str, tuple[int, int]],
               readme: dict[str, tuple[str, str]]) -> str:
    rows = ["| # | lab | what you see happen | run | checked claims |", "|---|---|---|---|---|"]
    for name in names:
        what, _ = readme.get(name, ("", ""))
        ran = f"{profiles[name]} profile" if name in available else "*not run yet*"
        passed = f"{checks[name][0]}/{checks[name][1]} passed" if checks.get(name) else "–"
        rows.append(f"| {name[:2]} | {_link(name, available, name)} | {what} | {ran} | {passed} |")
    missing = [n for n in names if n not in available]
    toc = "\n".join(f"labs/{n}" for n in names if n in available)
    return "\n".join([
        "# genlabs: generative modelling, lab by lab", "",
        "Lab notebooks that make a lecture on generative models happen on your screen: Sammon mapping and t-SNE, "
        "autoencoders, the VAE, the GAN derived and trained, mode collapse, f-divergences and the Wasserstein GAN. "
        "Each page is a lab as `make run` executed it, with its figures and the verdict of every claim it checks. "
        "Download a lab from its page to run it (and move its sliders) in JupyterLab.", "",
        "## The labs", "", *rows, "",
        (f"Not run yet: {', '.join(missing)}. `make run` (or `make run NB=notebooks/NN_name.ipynb`) executes "
         "them; `make site` then adds their pages." if missing else "Every lab has been run."), "",
        "```{toctree}", ":caption: Labs", ":maxdepth: 1", "", toc, "```", "",
        "```{toctree}", ":caption: Course", ":maxdepth: 1", "", "lecture_map", "```", ""])


def lecture_map(available: set[str]) -> str:
    """docs/site/lecture_map.md with the links to labs that have no page turned into "(not run yet)"."""
    text = (CONF_DIR / "lecture_map.md").read_text()
    return re.sub(r"\{doc\}`(\w+) <labs/(\w+)>`", lambda m: _link(m.group(2), available, m.group(1)), text)


def write_sources(notebooks_dir: Path, src: Path, mathjax: Path, labs: list[str] | None = None,
                  sources_dir: Path = REPO / "notebooks") -> list[str]:
    """Write the Sphinx sources into ``src`` (emptied first); return the labs that have a page.

    ``labs``: the labs of the course (default: every ``notebooks/NN_*.ipynb``); ``sources_dir``: where the
    committed labs are (their download copies).
    """
    shutil.rmtree(src, ignore_errors=True)
    (src / "labs" / "downloads").mkdir(parents=True)
    (src / "_static").mkdir()
    shutil.copy2(CONF_DIR / "conf.py", src / "conf.py")
    shutil.copy2(CONF_DIR / "genlabs.css", src / "_static" / "genlabs.css")
    shutil.copytree(mathjax, src / "_static" / "mathjax")
    names, available, profiles, checks = labs or lab_names(), set(), {}, {}
    for name in names:
        executed_path = notebooks_dir / f"{name}.ipynb"
        if not executed_path.is_file():
            continue
        executed = nbformat.read(executed_path, as_version=4)
        available.add(name)
        profiles[name] = ran_profile(executed)
        rows = check_rows(executed)
        checks[name] = (sum(r["verdict"] == "passed" for r in rows), len(rows)) if rows else None
        nbformat.write(page_notebook(name, executed), src / "labs" / f"{name}.ipynb")
        # labs/downloads/ is in conf.py's exclude_patterns: files to download, not pages
        shutil.copy2(sources_dir / f"{name}.ipynb", src / "labs" / "downloads" / f"{name}.ipynb")
        shutil.copy2(executed_path, src / "labs" / "downloads" / f"{name}.executed.ipynb")
    (src / "index.md").write_text(index_page(names, available, profiles, checks, readme_rows()))
    (src / "lecture_map.md").write_text(lecture_map(available))
    return [n for n in names if n in available]


def network_loads(site: Path) -> list[str]:
    """``file: snippet`` for every resource a built page would fetch from the network."""
    found = []
    for page in sorted(site.rglob("*.html")):
        text = page.read_text(errors="replace")
        found += [f"{page.relative_to(site)}: {m.group(0)[:120]}" for m in NETWORK_LOAD.finditer(text)]
    return found


def build(notebooks_dir: Path, out: Path, *, mathjax: Path | None = None, src: Path | None = None,
          quiet: bool = True, labs: list[str] | None = None, sources_dir: Path = REPO / "notebooks") -> list[str]:
    """Build the site into ``out``; return the labs that got a page. Raises on a Sphinx error or a network load.

    ``labs``, ``sources_dir``: as for :func:`write_sources` (tests give a tiny course).
    """
    mathjax = mathjax or default_mathjax()
    if mathjax is None or not (Path(mathjax) / MATHJAX_ENTRY).is_file():
        raise FileNotFoundError(
            f"MathJax 3 not found ({mathjax or 'no --mathjax and no build/mathjax'}): `make site` installs it, or "
            f"`npm install --prefix build/mathjax mathjax@3`, or set ${MATHJAX_ENV} to its es5 folder")
    src = src or out.parent / "site-src"
    labs = write_sources(notebooks_dir, src, Path(mathjax), labs, sources_dir)
    shutil.rmtree(out, ignore_errors=True)
    cmd = [sys.executable, "-m", "sphinx", "-b", "html", "-E", *(["-q"] if quiet else []), str(src), str(out),
           "-d", str(src / ".doctrees")]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"sphinx failed ({proc.returncode}):\n{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}")
    warnings = [ln for ln in proc.stderr.splitlines() if "WARNING" in ln or "ERROR" in ln]
    for line in warnings:
        print(line, file=sys.stderr)
    loads = network_loads(out)
    if loads:
        raise RuntimeError("the site would load from the network (it must work offline):\n" + "\n".join(loads))
    return labs


def main(argv: list[str] | None = None) -> int:
    from labutils.results import build_dir

    parser = argparse.ArgumentParser(prog="python -m labutils.tools.site", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--notebooks", type=Path, default=None, help="executed notebooks (default build/notebooks)")
    parser.add_argument("--out", type=Path, default=None, help="the site (default build/site)")
    parser.add_argument("--mathjax", type=Path, default=None, help=f"MathJax 3's es5 folder (with {MATHJAX_ENTRY})")
    args = parser.parse_args(argv)
    notebooks_dir = args.notebooks or build_dir() / "notebooks"
    out = args.out or build_dir() / "site"
    try:
        labs = build(notebooks_dir, out, mathjax=args.mathjax)
    except (FileNotFoundError, RuntimeError) as err:
        print(f"make site: {err}", file=sys.stderr)
        return 1
    missing = [n for n in lab_names() if n not in labs]
    print(f"site: {out / 'index.html'} with {len(labs)} lab page(s): {', '.join(labs) or 'none'}"
          + (f"; not run yet: {', '.join(missing)}" if missing else ""))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
