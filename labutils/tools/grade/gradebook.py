"""The gradebook: one row per (student, notebook, exercise), a CSV and a Markdown summary.

Rows are sorted and carry no timestamps, so grading the same submissions twice gives byte-identical
files. Error texts are cleaned (one line, no control characters, memory addresses masked) and capped.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import asdict, dataclass, fields
from pathlib import Path

FIELDS = ("student", "notebook", "exercise", "points", "max_points", "passed", "error")
MAX_ERROR_CHARS = 500
WHOLE_NOTEBOOK = "*"  # the exercise name of a row about a submission that could not be graded at all


@dataclass(frozen=True, order=True)
class Row:
    """The result of one exercise of one submission."""

    student: str
    notebook: str
    exercise: str
    points: float
    max_points: float
    passed: bool
    error: str = ""


def clean_text(text: str, limit: int = MAX_ERROR_CHARS) -> str:
    """One printable line of at most ``limit`` characters, memory addresses masked (determinism)."""
    text = re.sub(r"\x1b\[[0-9;]*[A-Za-z]", "", str(text))  # ANSI colours of tracebacks
    text = re.sub(r"0x[0-9a-fA-F]{6,}", "0x...", text)
    text = "".join(c if c.isprintable() else (" " if c in "\n\r\t" else f"\\x{ord(c):02x}") for c in text)
    text = re.sub(r" {2,}", " ", text).strip()
    return text if len(text) <= limit else text[: limit - 20] + f" ... [{len(text) - limit + 20} chars cut]"


def clean_name(name: str) -> str:
    """A student or notebook name as shown in the gradebook: printable, at most 200 characters."""
    return clean_text(name, 200) or "(empty)"


def _fmt(x: float) -> str:
    return f"{x:g}"


def sort_rows(rows: Iterable[Row]) -> list[Row]:
    return sorted(rows, key=lambda r: (r.student, r.notebook, r.exercise, r.error))


def to_csv(rows: Iterable[Row]) -> str:
    """The gradebook CSV text (header + sorted rows, ``\\n`` line ends)."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(FIELDS)
    for r in sort_rows(rows):
        writer.writerow([r.student, r.notebook, r.exercise, _fmt(r.points), _fmt(r.max_points),
                         "true" if r.passed else "false", r.error])
    return buf.getvalue()


def read_csv(path: Path) -> list[Row]:
    """Rows of a gradebook CSV written by :func:`to_csv`."""
    with open(path, newline="") as f:
        reader = csv.DictReader(f)
        if tuple(reader.fieldnames or ()) != FIELDS:
            raise ValueError(f"{path} is not a gradebook: expected columns {', '.join(FIELDS)}")
        return [Row(r["student"], r["notebook"], r["exercise"], float(r["points"]), float(r["max_points"]),
                    r["passed"] == "true", r["error"]) for r in reader]


def rows_to_json(rows: Iterable[Row]) -> str:
    return json.dumps([asdict(r) for r in sort_rows(rows)], indent=1, sort_keys=True) + "\n"


def rows_from_json(text: str) -> list[Row]:
    names = {f.name for f in fields(Row)}
    return [Row(**{k: v for k, v in d.items() if k in names}) for d in json.loads(text)]


def _md(text: str) -> str:
    """Text safe inside a Markdown table cell or emphasis."""
    return re.sub(r"([|*`\[\]<>\\])", r"\\\1", text)


def summary(rows: Iterable[Row]) -> str:
    """A readable Markdown report: totals per student and notebook, exercise pass rates, failures."""
    rows = sort_rows(rows)
    per_sub: dict[tuple[str, str], list[Row]] = defaultdict(list)
    per_ex: dict[tuple[str, str], list[Row]] = defaultdict(list)
    for r in rows:
        per_sub[(r.student, r.notebook)].append(r)
        if r.exercise != WHOLE_NOTEBOOK:
            per_ex[(r.notebook, r.exercise)].append(r)
    students = sorted({r.student for r in rows})
    out = ["# Grading summary", "",
           f"{len(per_sub)} submissions from {len(students)} students, {len(rows)} exercise results.", "",
           "## Scores", "", "| student | notebook | points | max | exercises passed |", "|---|---|---|---|---|"]
    for (student, notebook), rs in per_sub.items():
        graded = [r for r in rs if r.exercise != WHOLE_NOTEBOOK]
        out.append(f"| {_md(student)} | {_md(notebook)} | {_fmt(sum(r.points for r in rs))} | "
                   f"{_fmt(sum(r.max_points for r in rs))} | {sum(r.passed for r in graded)}/{len(graded)} |")
    out += ["", "## Exercises", "", "| notebook | exercise | passed | mean points | max |", "|---|---|---|---|---|"]
    for (notebook, exercise), rs in sorted(per_ex.items()):
        mean = sum(r.points for r in rs) / len(rs)
        out.append(f"| {_md(notebook)} | {_md(exercise)} | {sum(r.passed for r in rs)}/{len(rs)} | "
                   f"{mean:.2f} | {_fmt(rs[0].max_points)} |")
    failures = [r for r in rows if not r.passed or r.error]
    out += ["", "## Failures and notes", ""]
    if not failures:
        out.append("None: every exercise of every submission passed.")
    for r in failures:
        what = "whole notebook" if r.exercise == WHOLE_NOTEBOOK else f"`{r.exercise}`"
        out.append(f"- **{_md(r.student)}** / {_md(r.notebook)} / {what} "
                   f"({_fmt(r.points)}/{_fmt(r.max_points)}): {_md(r.error) or 'failed'}")
    return "\n".join(out) + "\n"


def write_gradebook(rows: Iterable[Row], out_dir: Path) -> tuple[Path, Path]:
    """Write ``gradebook.csv`` and ``summary.md`` into ``out_dir``; returns their paths."""
    rows = list(rows)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    csv_path, md_path = out_dir / "gradebook.csv", out_dir / "summary.md"
    csv_path.write_text(to_csv(rows))
    md_path.write_text(summary(rows))
    return csv_path, md_path


def collect_rows(out_dir: Path) -> list[Row]:
    """Every row stored under ``out_dir/rows/`` (one JSON file per graded submission)."""
    files = sorted((Path(out_dir) / "rows").glob("*/*.json"))
    if not files:
        raise ValueError(f"no graded submissions under {out_dir}/rows: run `grade` (or its --task shards) first")
    return sort_rows(r for f in files for r in rows_from_json(f.read_text()))
