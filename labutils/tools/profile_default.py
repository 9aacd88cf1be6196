"""Make ``PROFILE = "auto"`` a lab's default and say under its title how long each profile takes.

    python -m labutils.tools.profile_default notebooks/[0-9][0-9]_*.ipynb     # rewrite in place
    python -m labutils.tools.profile_default --check notebooks/*.ipynb        # exit 1 if any would change

For each notebook it
- rewrites the ``parameters`` cell's ``PROFILE = ...`` line to ``PROFILE = "auto"`` with a comment saying what
  auto picks (``SEED`` and anything else in the cell stay as they are);
- puts one run-time line under the title (first line of the first markdown cell), replacing an earlier one:
  the profiles' times on a 2-core CPU (:data:`CPU_TIMES`, measured; README's table) and on a GPU (not
  measured until a GPU is lent to the project: it says so).

It edits the JSON in place with nbformat: cell ids, outputs and metadata stay; running it twice changes
nothing the second time. No lab imports this.
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import nbformat

PROFILE_LINE = re.compile(r"^PROFILE\s*=.*$", re.MULTILINE)
AUTO_LINE = 'PROFILE = "auto"  # "auto": "full" on a CUDA/MPS GPU, "ci" on a CPU; or name "ci" / "full"'
RUN_TIME_LINE = re.compile(r"^> \*\*Run time\*\*.*$\n?", re.MULTILINE)

# Wall time of each profile on the project's 2-core CPU: CI from README's notebook table (06 and 08: `make test`
# of 2026-12-02, two labs at a time); full where a full run was timed (README: 01 2.5 min, 06 53 min on one core
# before issue 18's unrolled recipe; shared/NOTES.md: 05 1,046 s). None: not timed (02, 03 and 04 ran in full on
# the CPU without a recorded time; 08 only for a few steps; 07: 3,227 s, and ~2,250 s on 2026-12-02 beside other
# jobs). Fill in when measured.
CPU_TIMES: dict[str, tuple[str, str | None]] = {
    "00_setup": ("~10 s", None),
    "01_sammon_tsne": ("~30 s", "~2.5 min"),
    "02_autoencoder": ("~35 s", None),
    "03_vae": ("~35 s", None),
    "04_gan_derivation": ("~45 s", None),
    "05_gan_mnist": ("~55 s", "~17 min"),
    "06_mode_collapse": ("~4 min", "~2 h, estimated: not timed since issue 18's unrolled recipe (53 min before)"),
    "07_f_divergences": ("~35 s", "~40-55 min"),
    "08_wasserstein_gan": ("~2 min", None),
    "09_which_generator": ("~2 min", "~93 min, timed on a loaded machine"),
}


def ci_seconds(name: str) -> float:
    """The CI run time of lab ``name`` in seconds, from :data:`CPU_TIMES` ("~4 min" -> 240.0; 0.0 if unknown).

    ``make test`` starts the longest CI runs first, so that two workers finish together.
    """
    match = re.match(r"~\s*([\d.]+)\s*(s|min|h)\b", CPU_TIMES.get(name, ("", None))[0] or "")
    return float(match[1]) * {"s": 1, "min": 60, "h": 3600}[match[2]] if match else 0.0


def run_time_line(name: str) -> str:
    ci, full = CPU_TIMES.get(name, (None, None))
    ci_text = f"`ci` {ci}" if ci else "`ci` not measured"
    full_text = f"`full` {full}" if full else "`full` not timed yet"
    return (f"> **Run time** on a 2-core CPU: {ci_text}, {full_text}; on a GPU: not measured yet (no GPU has been "
            'lent to this project). `PROFILE = "auto"` runs `full` on a GPU and `ci` on a CPU; name one to choose.')


def set_auto_default(nb: nbformat.NotebookNode, name: str) -> bool:
    """Rewrite ``nb`` in place (parameters cell, run-time line under the title); return whether it changed."""
    params = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    if len(params) != 1:
        raise ValueError(f"{name}: expected exactly one cell tagged 'parameters', found {len(params)}")
    before = [c.source for c in nb.cells]
    cell = params[0]
    if PROFILE_LINE.search(cell.source):
        cell.source = PROFILE_LINE.sub(AUTO_LINE, cell.source, count=1)
    else:
        cell.source = AUTO_LINE + "\n" + cell.source
    title = next((c for c in nb.cells if c.cell_type == "markdown"), None)
    if title is None:
        raise ValueError(f"{name}: no markdown cell to put the run times in")
    body = RUN_TIME_LINE.sub("", title.source)
    first, _, rest = body.partition("\n")
    rest = rest.lstrip("\n")
    title.source = f"{first}\n\n{run_time_line(name)}\n" + (f"\n{rest}" if rest else "")
    return [c.source for c in nb.cells] != before


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m labutils.tools.profile_default", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("notebooks", nargs="+", type=Path)
    parser.add_argument("--check", action="store_true", help="change nothing; exit 1 if a notebook would change")
    args = parser.parse_args(argv)
    stale = []
    for path in args.notebooks:
        nb = nbformat.read(path, as_version=4)
        if set_auto_default(nb, path.stem):
            stale.append(path)
            if not args.check:
                nbformat.write(nb, path)
        print(f"{path}: {'would change' if args.check and path in stale else 'rewritten' if path in stale else 'ok'}")
    return 1 if args.check and stale else 0


if __name__ == "__main__":
    raise SystemExit(main())
