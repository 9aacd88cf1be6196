"""Build the notebook that runs in the sandbox: the student's cells, and the export part of every check.

The submission's own check cells are never run. Each is matched to an instructor check (by cell
id, else by exercise name and position among that exercise's public checks, else by identical
source) and replaced by the instructor check's *export cell* (its INPUTS and EXPORT sections, writing
the values under :func:`export_key`); an edited or deleted public check is reported. Hidden checks'
export cells are put back where the checks sit in the instructor notebook relative to their exercise:
right after the previous check of the same exercise, or after the exercise's solution cell. No ASSERT
section ever enters this notebook: the grader runs them (:func:`labutils.tools.grade.checks.judge`).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field

import nbformat

from labutils.tools.grade.checks import export_source
from labutils.tools.grade.markers import (
    HIDDEN_TAG,
    SOLUTION_TAG,
    Check,
    Exercise,
    genlabs_meta,
    is_check,
    source_hash,
    tags,
)

GRADE_KEY = "genlabs_grade"  # cell metadata of the inserted checks: {"exercise", "check", "points"}
ALLOW_ERRORS_TAG = "raises-exception"  # nbclient runs on past a cell with this tag when it raises


@dataclass
class Assembled:
    """The notebook to execute and what was found wrong with the submission's check cells."""

    nb: nbformat.NotebookNode
    notes: dict[str, list[str]] = field(default_factory=dict)  # exercise -> problems found


def _recorded_hashes(sub: nbformat.NotebookNode) -> dict[str, str]:
    """check id -> hash, from the student version's metadata record (when present)."""
    rec = sub.metadata.get("genlabs", {})
    out: dict[str, str] = {}
    for ex in rec.get("exercises", []) if isinstance(rec, dict) else []:
        for c in ex.get("checks", []) if isinstance(ex, dict) else []:
            if isinstance(c, dict) and isinstance(c.get("id"), str):
                out[c["id"]] = str(c.get("sha256"))
    return out


def _match_public_checks(sub_cells: list, exercises: list[Exercise]) -> tuple[dict[int, Check], set[int]]:
    """Map submission cell index -> the instructor check it stands for; also every index to drop."""
    checks = [c for ex in exercises for c in ex.checks]
    by_id = {c.cell_id: c for c in checks}
    by_hash = {c.sha256: c for c in checks if not c.hidden}
    public = {ex.name: [c for c in ex.checks if not c.hidden] for ex in exercises}
    matched: dict[int, Check] = {}
    used: set[str] = set()
    drop: set[int] = set()
    ordinal: dict[str, int] = {}
    for i, cell in enumerate(sub_cells):
        looks_like_check = is_check(cell) or cell.get("id") in by_id or source_hash(cell.source) in by_hash
        if not looks_like_check or cell.cell_type != "code":
            continue
        drop.add(i)
        check = by_id.get(cell.get("id"))
        ex = genlabs_meta(cell).get("exercise")
        if is_check(cell) and isinstance(ex, str) and ex in public:
            ordinal[ex] = k = ordinal.get(ex, -1) + 1  # position among this exercise's public checks
            if check is None and k < len(public[ex]):
                check = public[ex][k]
        if check is None:
            check = by_hash.get(source_hash(cell.source))
        if check is not None and check.cell_id not in used and not check.hidden:
            matched[i] = check
            used.add(check.cell_id)
    return matched, drop


def export_key(exercise_index: int, check_index: int) -> str:
    """The file stem a check's values are written under (``e0c1``: exercise 0, check 1)."""
    return f"e{exercise_index}c{check_index}"


def _check_cell(check: Check, exercise_index: int, index: int) -> nbformat.NotebookNode:
    label = f"check {index + 1} of exercise {check.exercise!r}{' (hidden)' if check.hidden else ''}"
    cell = nbformat.v4.new_code_cell(export_source(check.sections, export_key(exercise_index, index), label))
    cell["id"] = check.cell_id
    cell.metadata["tags"] = ["check", ALLOW_ERRORS_TAG] + (["hidden"] if check.hidden else [])
    cell.metadata[GRADE_KEY] = {"exercise": check.exercise, "check": index, "points": check.points}
    return cell


def assemble(sub: nbformat.NotebookNode, exercises: list[Exercise]) -> Assembled:
    """The grading notebook for submission ``sub`` against the instructor's ``exercises``."""
    sub = copy.deepcopy(sub)
    recorded = _recorded_hashes(sub)
    notes: dict[str, list[str]] = {ex.name: [] for ex in exercises}
    matched, drop = _match_public_checks(sub.cells, exercises)
    # The working list: submission cells, with each matched check's slot remembered by identity.
    cells: list[nbformat.NotebookNode] = []
    slot: dict[str, nbformat.NotebookNode] = {}
    for i, cell in enumerate(sub.cells):
        cell.metadata.pop(GRADE_KEY, None)  # only the grader sets it
        if i in matched:
            placeholder = nbformat.v4.new_raw_cell("")
            slot[matched[i].cell_id] = placeholder
            cells.append(placeholder)
            check = matched[i]
            if source_hash(cell.source) != check.sha256:
                ex_notes = notes[check.exercise]
                n = [c.cell_id for c in _exercise(exercises, check.exercise).checks].index(check.cell_id) + 1
                if recorded.get(check.cell_id) == source_hash(cell.source):
                    ex_notes.append(f"check {n} differs from the instructor's current version "
                                    "(old student version?); the instructor's check was run")
                else:
                    ex_notes.append(f"check {n} was edited; the instructor's check was run")
        elif i not in drop:
            cells.append(cell)
    for e, ex in enumerate(exercises):
        placed: nbformat.NotebookNode | None = None
        for n, check in enumerate(ex.checks):
            new = _check_cell(check, e, n)
            if check.cell_id in slot:
                where = slot[check.cell_id]
                cells[_index(cells, where)] = new
            else:
                if not check.hidden:
                    notes[ex.name].append(f"check {n + 1} was deleted; the instructor's check was run")
                anchor = placed if placed is not None else _solution_cell(cells, ex)
                cells.insert(_index(cells, anchor) + 1 if anchor is not None else len(cells), new)
            placed = new
    for cell in cells:
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
            if ALLOW_ERRORS_TAG not in tags(cell):
                cell.metadata["tags"] = tags(cell) + [ALLOW_ERRORS_TAG]
    sub.cells = cells  # every placeholder was replaced: each matched check belongs to an exercise
    return Assembled(sub, notes)


def _exercise(exercises: list[Exercise], name: str) -> Exercise:
    return next(ex for ex in exercises if ex.name == name)


def _index(cells: list, target: object) -> int:
    return next(i for i, c in enumerate(cells) if c is target)


def _solution_cell(cells: list, ex: Exercise) -> nbformat.NotebookNode | None:
    """The last solution cell of ``ex`` in the submission (by id, else by tag and exercise name)."""
    found = None
    for cell in cells:
        if cell.get("id") in ex.solution_ids or (
            SOLUTION_TAG in tags(cell) and genlabs_meta(cell).get("exercise") == ex.name
        ):
            found = cell
    return found


__all__ = ["ALLOW_ERRORS_TAG", "GRADE_KEY", "HIDDEN_TAG", "Assembled", "assemble", "export_key"]
