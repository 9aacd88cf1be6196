"""Check cells: one source, run as a plain assert cell in one kernel, or split between two processes.

A check cell's source has three sections, each opened by a marker line (``### INPUTS`` is optional):

    ### INPUTS   trusted set-up and inputs: imports, grading.rng() draws; no name from the student's code
    ### EXPORT   runs in the student's kernel: calls the student's code; every name it assigns is exported
    ### ASSERT   runs in the grader: asserts on the INPUTS names and the exported values

Lines before the first marker (comments such as ``# NBVAL_CHECK_OUTPUT``) belong to no section. Run top
to bottom the cell is an ordinary assert cell (the instructor notebook, an nbgrader export). At grading,
:func:`export_source` is what runs in the sandboxed kernel, and :func:`judge` runs INPUTS again and
ASSERT on the values read back, in the grader, where nothing the student's kernel did can reach.
"""

from __future__ import annotations

import ast
import builtins
import traceback
from dataclasses import dataclass
from typing import Any

from labutils import device, grading

INPUTS, EXPORT, ASSERT = "### INPUTS", "### EXPORT", "### ASSERT"
MARKERS = (INPUTS, EXPORT, ASSERT)
ASSERT_FILE = "<check>"


@dataclass(frozen=True)
class Sections:
    """The three parts of a check cell, and the names EXPORT assigns (what leaves the kernel)."""

    inputs: str
    export: str
    asserts: str
    exported: tuple[str, ...]


class _Bound(ast.NodeVisitor):
    """Names bound at module level (not inside functions, lambdas, classes or comprehensions)."""

    def __init__(self) -> None:
        self.names: dict[str, None] = {}

    def visit_Name(self, node: ast.Name) -> None:
        if isinstance(node.ctx, ast.Store):
            self.names[node.id] = None

    def _skip(self, node: ast.AST) -> None:
        return None

    visit_FunctionDef = visit_AsyncFunctionDef = visit_Lambda = visit_ClassDef = _skip
    visit_ListComp = visit_SetComp = visit_DictComp = visit_GeneratorExp = _skip


def split(source: str, where: str = "check") -> Sections:
    """The sections of a check cell; ValueError naming ``where`` when the markers or the code are wrong."""
    parts: dict[str, list[str]] = {}
    current: str | None = None
    for line in source.split("\n"):
        if line.strip() in MARKERS:
            marker = line.strip()
            if marker in parts:
                raise ValueError(f"{where}: '{marker}' appears twice")
            if current is not None and MARKERS.index(marker) < MARKERS.index(current):
                raise ValueError(f"{where}: '{marker}' must come before '{current}'")
            current = marker
            parts[marker] = []
        elif current is not None:
            parts[current].append(line)
        elif line.strip() and not line.lstrip().startswith("#"):
            raise ValueError(f"{where}: code before the first marker; a check cell has '{INPUTS}' (optional), "
                             f"'{EXPORT}' and '{ASSERT}' sections (docs/GRADING.md, check cells)")
    if EXPORT not in parts or ASSERT not in parts:
        raise ValueError(f"{where}: a check cell needs an '{EXPORT}' and an '{ASSERT}' section, each opened by "
                         "that line alone (docs/GRADING.md, check cells)")
    texts = {m: "\n".join(parts.get(m, [])).strip("\n") for m in MARKERS}
    for marker, text in texts.items():
        try:
            ast.parse(text)
        except SyntaxError as e:
            raise ValueError(f"{where}: the '{marker}' section does not parse: {e}") from None
    exported, trusted = _bound(texts[EXPORT]), _bound(texts[INPUTS])
    if clash := [n for n in exported if n in trusted]:
        raise ValueError(f"{where}: EXPORT assigns {clash}, which INPUTS defines: the grader would judge the "
                         "student's value instead of its own; use other names")
    return Sections(texts[INPUTS], texts[EXPORT], texts[ASSERT], exported)


def _bound(code: str) -> tuple[str, ...]:
    visitor = _Bound()
    visitor.visit(ast.parse(code))
    return tuple(visitor.names)


def export_source(sections: Sections, key: str, label: str) -> str:
    """The cell that runs in the student's kernel at grading: INPUTS and EXPORT, then the values written."""
    return (f"# genlabs grading: {label}. Only values leave this kernel; the grader decides the verdict.\n"
            "import labutils.grading\n"
            f"labutils.grading.run_export({key!r}, {sections.inputs!r}, {sections.export!r}, "
            f"{list(sections.exported)!r})")


def _silent_print(*args: Any, **kwargs: Any) -> None:
    """ASSERT's verdict lines are for the plain notebook run; the grader keeps its output clean."""


def judge(sections: Sections, values: dict[str, Any], seed: int) -> str | None:
    """Run INPUTS and ASSERT on the exported ``values`` here, in the grader; None if it passes, else the error.

    ``values`` come from :func:`labutils.grading.load_values` (plain data). INPUTS runs with the same
    ``seed`` as in the student's kernel, so the inputs are the grader's own, not the exported ones, and in
    the kernel's floating-point mode (denormals flushed, as :func:`labutils.start` sets on the CPU), so that
    they are the same numbers: a denormal input would otherwise be 0 in the kernel and not here.
    """
    namespace: dict[str, Any] = {"__name__": "__genlabs_check__", "__builtins__": builtins, "print": _silent_print}
    with grading.seeded(seed), device.denormals_flushed():
        try:
            exec(compile(sections.inputs, "<check inputs>", "exec"), namespace)
        except Exception as e:  # noqa: BLE001 - the instructor's INPUTS must run without the student's names
            return f"grader error: the check's INPUTS failed outside the kernel ({_error(e)}); fix the check"
        namespace.update({k: v for k, v in values.items() if k in sections.exported})
        try:
            exec(compile(sections.asserts, ASSERT_FILE, "exec"), namespace)
        except Exception as e:  # noqa: BLE001 - a failed assertion (or any error on the values) fails the check
            return _error(e, sections.asserts)
    return None


def _error(e: BaseException, source: str = "") -> str:
    """``Name: message``; a bare AssertionError is shown with the ASSERT line that failed."""
    text = "".join(traceback.format_exception_only(type(e), e)).strip()
    if isinstance(e, AssertionError) and text == "AssertionError":
        linenos = [f.lineno for f in traceback.extract_tb(e.__traceback__) if f.filename == ASSERT_FILE]
        lines = source.split("\n")
        if linenos and linenos[-1] and 0 < linenos[-1] <= len(lines):
            return f"AssertionError: {lines[linenos[-1] - 1].strip()}"
    return text
