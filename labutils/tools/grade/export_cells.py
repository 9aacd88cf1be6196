"""A lab's cells made ready for another grading tool (:mod:`labutils.tools.grade.export`).

One source of truth: a check cell's INPUTS, EXPORT and ASSERT sections run top to bottom are a plain
assert cell (:func:`plain_body`). nbgrader and otter judge a test cell by its output, so :func:`quiet`
wraps it to ignore warnings and swallow stderr (and stdout for otter) while a failed assert still raises.
:func:`prepared`, :func:`clean` and :func:`finish` are the steps both renderings share.
"""

from __future__ import annotations

import copy
import io
import tokenize
from collections.abc import Iterable

import nbformat

from labutils.tools.grade import checks, markers, student

DROPPED_COMMENTS = ("# NBVAL_",)  # nbval directives mean nothing to the other tools
_Q = "_genlabs_"  # prefix of the wrapper's names (kept out of the notebook's own)


def _indent(code: str, prefix: str) -> str:
    """``code`` indented by ``prefix``, except lines that continue a multi-line string (left as they are)."""
    inside: set[int] = set()  # 1-based line numbers that lie within a string token begun on an earlier line
    for tok in tokenize.generate_tokens(io.StringIO(code).readline):
        if tok.type == tokenize.STRING or getattr(tokenize, "FSTRING_MIDDLE", None) == tok.type:
            inside.update(range(tok.start[0] + 1, tok.end[0] + 1))
    return "\n".join(line if n in inside or not line.strip() else prefix + line
                     for n, line in enumerate(code.split("\n"), 1))


def plain_body(check: markers.Check) -> str:
    """INPUTS, EXPORT and ASSERT run one after the other: the check as an ordinary assert cell."""
    parts = check.sections
    return "\n".join(p for p in (parts.inputs, parts.export, parts.asserts) if p.strip())


def header_comments(check: markers.Check) -> list[str]:
    """The comment lines before the check's first marker (what the check is about), nbval's dropped."""
    lines = []
    for line in check.source.split("\n"):
        if line.strip() in checks.MARKERS:
            break
        if line.strip() and not line.strip().startswith(DROPPED_COMMENTS):
            lines.append(line.rstrip())
    return lines


def quiet(body: str, *, stdout: bool) -> str:
    """``body`` run with Python warnings ignored and stderr swallowed (and stdout too when ``stdout``).

    An exception (a failed ``assert``) still propagates: the test cell fails with its traceback.
    """
    streams = f"{_Q}ctx.redirect_stderr({_Q}io.StringIO())"
    if stdout:
        streams += f", {_Q}ctx.redirect_stdout({_Q}io.StringIO())"
    return "\n".join([
        f"import contextlib as {_Q}ctx, io as {_Q}io, warnings as {_Q}warnings",
        f"with {_Q}warnings.catch_warnings(), {streams}:",
        f"    {_Q}warnings.simplefilter('ignore')",
        _indent(body, "    "),
    ])


def clean(cell: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """A copy without outputs, run metadata, or the genlabs exercise tags and metadata."""
    cell = copy.deepcopy(cell)
    if cell.cell_type == "code":
        cell.outputs, cell.execution_count = [], None
    for key in ("execution", "papermill", "widgets", "collapsed", "scrolled", "genlabs"):
        cell.metadata.pop(key, None)
    rest = [t for t in markers.tags(cell) if t not in (markers.SOLUTION_TAG, markers.CHECK_TAG, markers.HIDDEN_TAG)]
    if rest:
        cell.metadata["tags"] = rest
    else:
        cell.metadata.pop("tags", None)
    return cell


def prepared(nb: nbformat.NotebookNode, name: str, keep: Iterable[str] | None):
    """(notebook with only the handed-out exercises, its exercises, cell id -> (exercise, check index))."""
    nb = student.unselect(nb, name, keep)
    exercises = markers.parse_exercises(nb, name)
    where = {c.cell_id: (ex, k) for ex in exercises for k, c in enumerate(ex.checks)}
    return nb, exercises, where


def finish(nb: nbformat.NotebookNode, cells: list) -> nbformat.NotebookNode:
    """``nb`` with these cells, run metadata dropped, a python3 kernelspec, validated."""
    nb.cells = cells
    for key in ("papermill", "widgets", "genlabs"):
        nb.metadata.pop(key, None)
    nb.metadata.setdefault("kernelspec", {"name": "python3", "display_name": "Python 3", "language": "python"})
    nb.metadata["kernelspec"]["name"] = "python3"
    nb.metadata.setdefault("language_info", {"name": "python"})
    nbformat.validate(nb)
    return nb
