"""Command line: ``python -m labutils.grade {student,grade,list,gradebook,export}``.

    python -m labutils.grade student [NOTEBOOKS...] --out build/student [--exercises NAME,NN_topic:NAME]
    python -m labutils.grade grade SUBMISSIONS --out OUT [--workers N] [--timeout S] [--threads T]
                                   [--memory GB] [--instructor notebooks/] [--no-sandbox]
    python -m labutils.grade list SUBMISSIONS                       # numbered, for a job array
    python -m labutils.grade grade SUBMISSIONS --out OUT --task I   # grade submission I only
    python -m labutils.grade gradebook OUT                          # gradebook from the tasks' rows
    python -m labutils.grade export --to nbgrader|otter --out DIR [NOTEBOOKS...]   # a course folder for that tool
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from labutils.tools.grade import export, gradebook, markers, runner, student


def _student(args: argparse.Namespace) -> int:
    paths = [Path(p) for p in args.notebooks] or markers.lab_notebooks(Path(args.instructor))
    if not paths:
        raise ValueError(f"no NN_topic.ipynb notebooks in {args.instructor}: name the notebooks to convert")
    for target, exercises in student.write_student_versions(paths, Path(args.out), args.exercises):
        hidden = sum(c.points for ex in exercises for c in ex.checks if c.hidden)
        total = sum(ex.max_points for ex in exercises)
        n = len(exercises)
        print(f"{target}: {n} exercise{'' if n == 1 else 's'}, {total:g} points ({hidden:g} in hidden checks)")
    return 0


def _export(args: argparse.Namespace) -> int:
    paths = [Path(p) for p in args.notebooks] or markers.lab_notebooks(Path(args.instructor))
    if not paths:
        raise ValueError(f"no NN_topic.ipynb notebooks in {args.instructor}: name the notebooks to export")
    for target, exercises in export.export(args.to, paths, Path(args.out), args.exercises):
        total = sum(ex.max_points for ex in exercises)
        print(f"{target}: {len(exercises)} exercise{'' if len(exercises) == 1 else 's'}, {total:g} points")
    how = ("cd OUT && nbgrader generate_assignment NN_topic; nbgrader autograde NN_topic" if args.to == "nbgrader" else
           "otter assign OUT/NN_topic/NN_topic.ipynb DIST/NN_topic; GENLABS_PROFILE=ci otter run -a "
           "DIST/NN_topic/autograder/NN_topic-autograder_*.zip SUBMISSION.ipynb")
    print(f"next (docs/GRADING.md): {how.replace('OUT', str(args.out))}")
    return 0


def _grade(args: argparse.Namespace) -> int:
    if args.task is not None:
        rows = runner.grade_task(Path(args.submissions), Path(args.out), args.task,
                                 instructor_dir=Path(args.instructor), timeout=args.timeout, threads=args.threads,
                                 use_sandbox=not args.no_sandbox, memory_gb=args.memory, exercises=args.exercises)
        print(f"task {args.task}: {sum(r.points for r in rows):g}/{sum(r.max_points for r in rows):g} points "
              f"(rows in {Path(args.out) / 'rows'}; run `gradebook {args.out}` when all tasks are done)")
        return 0
    rows = runner.grade_batch(Path(args.submissions), Path(args.out), instructor_dir=Path(args.instructor),
                              workers=args.workers, timeout=args.timeout, threads=args.threads,
                              use_sandbox=not args.no_sandbox, memory_gb=args.memory, exercises=args.exercises)
    subs = {(r.student, r.notebook) for r in rows}
    failed = sum(not r.passed for r in rows)
    print(f"graded {len(subs)} submissions: {len(rows)} exercise results, {failed} not passed")
    print(f"gradebook: {Path(args.out) / 'gradebook.csv'}\nsummary:   {Path(args.out) / 'summary.md'}")
    return 0


def _list(args: argparse.Namespace) -> int:
    subs = runner.discover(Path(args.submissions))
    for i, sub in enumerate(subs):
        note = f"  ({sub.problem})" if sub.problem else ""
        print(f"{i}\t{gradebook.clean_name(sub.student)}\t{gradebook.clean_name(sub.notebook)}{note}")
    print(f"{len(subs)} submissions: tasks 0..{len(subs) - 1}", file=sys.stderr)
    return 0


def _gradebook(args: argparse.Namespace) -> int:
    rows, refused = gradebook.collect_rows(Path(args.out))
    for reason in refused:
        print(f"refused: {reason}", file=sys.stderr)
    csv_path, md_path = gradebook.write_gradebook(rows, Path(args.out))
    print(f"gradebook: {csv_path}\nsummary:   {md_path}")
    return 0


EXERCISES_HELP = "exercises (NAME or NN_topic:NAME, comma-separated or repeated)"


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m labutils.grade", description=__doc__.split("\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    sub = p.add_subparsers(dest="command", required=True)
    s = sub.add_parser("student", help="write the student versions of lab notebooks")
    s.add_argument("notebooks", nargs="*", help="instructor notebooks (default: INSTRUCTOR/NN_*.ipynb)")
    s.add_argument("--out", default="build/student", help="folder for the student notebooks")
    s.add_argument("--instructor", default="notebooks", help="where the default notebooks are")
    s.add_argument("--exercises", action="append", metavar="NAME[,NAME...]",
                   help=EXERCISES_HELP + " to hand out; the others keep their answers (default: all)")
    s.set_defaults(func=_student)
    g = sub.add_parser("grade", help="grade SUBMISSIONS/<student>/<NN_topic>.ipynb into OUT")
    g.add_argument("submissions")
    g.add_argument("--out", required=True, help="output folder (gradebook.csv, summary.md, executed/)")
    g.add_argument("--instructor", default="notebooks", help="folder of the instructor notebooks")
    g.add_argument("--workers", type=int, default=None, help="parallel notebooks (default: CPU cores)")
    g.add_argument("--timeout", type=float, default=600.0, help="wall-time limit per notebook, seconds")
    g.add_argument("--threads", type=int, default=1,
                   help="BLAS/OpenMP threads per kernel (default 1: more only on a machine of your own)")
    g.add_argument("--memory", type=float, default=8.0, help="address space per sandboxed process, GB (default 8)")
    g.add_argument("--no-sandbox", action="store_true",
                   help="run kernels without bubblewrap: only for submissions you trust (see docs/GRADING.md, Limits)")
    g.add_argument("--task", type=int, default=None, help="grade only submission number TASK (see `list`)")
    g.add_argument("--exercises", action="append", metavar="NAME[,NAME...]",
                   help=EXERCISES_HELP + " to grade: the same as given to `student` (default: all)")
    g.set_defaults(func=_grade)
    ls = sub.add_parser("list", help="number the submissions (job-array task ids)")
    ls.add_argument("submissions")
    ls.set_defaults(func=_list)
    b = sub.add_parser("gradebook", help="write OUT/gradebook.csv and summary.md from the signed OUT/rows/")
    b.add_argument("out")
    b.set_defaults(func=_gradebook)
    x = sub.add_parser("export", help="write a course folder for nbgrader or otter-grader (docs/GRADING.md)")
    x.add_argument("notebooks", nargs="*", help="instructor notebooks (default: INSTRUCTOR/NN_*.ipynb)")
    x.add_argument("--to", required=True, choices=export.TOOLS, help="the grading tool")
    x.add_argument("--out", required=True, help="the course folder to write")
    x.add_argument("--instructor", default="notebooks", help="where the default notebooks are")
    x.add_argument("--exercises", action="append", metavar="NAME[,NAME...]",
                   help=EXERCISES_HELP + " to hand out; the others keep their answers (default: all)")
    x.set_defaults(func=_export)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        return args.func(args)
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
