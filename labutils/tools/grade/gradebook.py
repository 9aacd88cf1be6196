"""The gradebook: one row per (student, notebook, exercise), a CSV and a Markdown summary.

Rows are sorted and carry no timestamps, so grading the same submissions twice gives byte-identical
files. Error texts are cleaned (one line, no control characters, memory addresses masked) and capped;
names are cleaned too, with a hash of the original added whenever cleaning changed anything, so two
folders never merge into one student. Row files (``OUT/rows/``, the job-array path) are signed with an
HMAC under a per-batch key kept in ``OUT`` (never visible in a sandbox); ``gradebook`` accepts only
files whose signature matches their content and their place.
"""

from __future__ import annotations

import csv
import hashlib
import hmac
import io
import json
import os
import re
import secrets
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
    """A student or notebook name as shown in the gradebook: printable, at most 200 characters, not a
    spreadsheet formula, and unique: when cleaning changed the name, ``~`` and a hash of it are added."""
    cleaned = clean_text(name, 180)
    if cleaned.startswith(("=", "+", "-", "@")):
        cleaned = "'" + cleaned
    if cleaned == name and name:
        return cleaned
    return f"{cleaned or '(empty)'} ~{hashlib.sha256(name.encode('utf-8', 'surrogateescape')).hexdigest()[:8]}"


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


KEY_FILE = ".grader-key"  # the batch's signing key, in OUT (mode 0600)


def batch_key(out_dir: Path, fresh: bool = False) -> bytes:
    """The signing key of the batch in ``out_dir``: made once (atomically, so job-array tasks agree) and
    reused; ``fresh`` replaces it (a new local batch)."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / KEY_FILE
    if fresh:
        path.unlink(missing_ok=True)
    if not path.exists():
        tmp = out_dir / f"{KEY_FILE}.{os.getpid()}.{secrets.token_hex(4)}"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(secrets.token_hex(32))
        try:
            os.link(tmp, path)  # fails if another task made it first: then that key is the batch's
        except FileExistsError:
            pass
        finally:
            tmp.unlink()
    key = bytes.fromhex(path.read_text().strip())
    if len(key) != 32:
        raise ValueError(f"{path} is not a grader key: delete it and grade the batch again")
    return key


def _mac(key: bytes, place: str, body: str) -> str:
    return hmac.new(key, f"{place}\n{body}".encode(), hashlib.sha256).hexdigest()


def rows_to_json(rows: Iterable[Row], key: bytes, place: str) -> str:
    """The signed row file of one submission; ``place`` is its path under ``OUT/rows``."""
    body = json.dumps([asdict(r) for r in sort_rows(rows)], sort_keys=True)
    return json.dumps({"rows": body, "hmac": _mac(key, place, body)}, indent=1) + "\n"


def rows_from_json(text: str, key: bytes, place: str) -> list[Row]:
    """The rows of a signed row file; ValueError when it is not the grader's (forged, edited or moved)."""
    try:
        doc = json.loads(text)
        body, mac = doc["rows"], doc["hmac"]
        if not (isinstance(body, str) and isinstance(mac, str) and hmac.compare_digest(mac, _mac(key, place, body))):
            raise ValueError("bad signature")
        names = {f.name for f in fields(Row)}
        return [Row(**{k: v for k, v in d.items() if k in names}) for d in json.loads(body)]
    except (ValueError, KeyError, TypeError) as e:
        raise ValueError(f"{place}: not signed by this batch's grader ({e})") from None


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


def collect_rows(out_dir: Path) -> tuple[list[Row], list[str]]:
    """The rows of every row file under ``out_dir/rows/`` that the batch's grader signed, and the
    reasons the other files there were refused."""
    root = Path(out_dir) / "rows"
    files = sorted(p for p in root.rglob("*") if not p.is_dir()) if root.is_dir() else []
    if not (Path(out_dir) / KEY_FILE).is_file():
        raise ValueError(f"no grader key in {out_dir}: run `grade` (or its --task shards) into it first")
    key = batch_key(out_dir)
    rows: list[Row] = []
    refused: list[str] = []
    for f in files:
        place = f.relative_to(root).as_posix()
        try:
            if f.is_symlink() or not f.is_file() or f.stat().st_size > 10_000_000:
                raise ValueError(f"{place}: not a regular file of the grader's size")
            rows += rows_from_json(f.read_text(), key, place)
        except (ValueError, OSError, UnicodeDecodeError) as e:
            refused.append(str(e))
    if not rows:
        raise ValueError(f"no graded submissions under {root}: run `grade` (or its --task shards) first")
    return sort_rows(rows), refused
