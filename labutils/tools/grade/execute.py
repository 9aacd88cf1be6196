"""Read what a sandboxed run left behind: the executed notebook (untrusted data), its errors, capped outputs.

The executed notebook is written by the student's kernel's side of the sandbox, so it is read like
any hostile file: never through a symbolic link, at most :data:`MAX_READ_BYTES`, parsed as JSON only.
It is kept for people to look at and for the "first error above it" hints; verdicts never come from it.
"""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import nbformat

MAX_OUTPUT_CHARS = 20_000  # per output of a stored executed notebook
MAX_NOTEBOOK_CHARS = 2_000_000  # all outputs of a stored executed notebook
MAX_READ_BYTES = 200_000_000  # the largest executed notebook read back at all


def read_output(path: Path) -> nbformat.NotebookNode | None:
    """The executed notebook, or None when there is none, or a half-written, huge, odd or linked one."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
        with os.fdopen(fd, "rb") as f:
            info = os.fstat(f.fileno())
            if not stat.S_ISREG(info.st_mode) or info.st_size > MAX_READ_BYTES:
                return None
            nb = nbformat.reads(f.read(MAX_READ_BYTES).decode("utf-8"), as_version=4)
        nbformat.validate(nb)
        return nb
    except (OSError, ValueError, KeyError, TypeError, AttributeError, RecursionError, nbformat.ValidationError):
        return None


def cell_error(cell: nbformat.NotebookNode) -> str | None:
    """``"Ename: evalue"`` of the cell's first error output, None when it has none."""
    for out in cell.get("outputs", []):
        if out.get("output_type") == "error":
            return f"{out.get('ename', 'Error')}: {out.get('evalue', '')}".rstrip(": ")
    if cell.get("metadata", {}).get("papermill", {}).get("exception"):
        return "CellExecutionError: the cell failed without an error output"
    return None


def error_above(cells: list, index: int, check_key: str) -> str | None:
    """The first error of the cells between the previous check cell and ``cells[index]``."""
    start = max((i for i in range(index) if check_key in cells[i].metadata), default=-1) + 1
    for i in range(start, index):
        if cells[i].cell_type == "code" and (err := cell_error(cells[i])):
            label = f"In [{cells[i].execution_count}]" if cells[i].get("execution_count") else f"cell {i}"
            return f"{label}: {err}"
    return None


def last_error_line(log: str) -> str:
    lines = [line.strip() for line in log.splitlines() if line.strip()]
    hits = [line for line in lines if "Error" in line or "error" in line]
    return (hits or lines or ["no output"])[-1][:300]


def _cap(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    half = limit // 2
    return f"{text[:half]}\n... [{len(text) - limit} characters cut by the grader] ...\n{text[-half:]}"


def cap_outputs(nb: nbformat.NotebookNode, per_output: int = MAX_OUTPUT_CHARS,
                total: int = MAX_NOTEBOOK_CHARS) -> None:
    """Shorten outputs in place so a notebook that prints megabytes is stored at a bounded size."""
    budget = total
    for cell in nb.cells:
        outs = []
        for out in cell.get("outputs", []):
            if "text" in out:
                out["text"] = _cap("".join(out["text"]), per_output)
            if "traceback" in out:
                out["traceback"] = [_cap(line, 2000) for line in out["traceback"][-30:]]
            for mime, value in list(out.get("data", {}).items()):
                text = value if isinstance(value, str) else json.dumps(value)
                if len(text) > per_output:
                    if mime.startswith("text/"):
                        out["data"][mime] = _cap(text, per_output)
                    else:
                        del out["data"][mime]
                        out["data"].setdefault("text/plain", f"[{mime} output of {len(text)} characters dropped]")
            if budget <= 0:
                break
            size = len(json.dumps(out))
            if size > budget:
                note = "[further output dropped: the notebook's outputs exceed the cap]\n"
                outs.append(nbformat.v4.new_output("stream", name="stderr", text=note))
                budget = 0
                break
            budget -= size
            outs.append(out)
        if "outputs" in cell:
            cell["outputs"] = outs
    nb.metadata.pop("widgets", None)
