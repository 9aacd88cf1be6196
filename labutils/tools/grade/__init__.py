"""Instructor workflow: student versions of the lab notebooks, and batch grading of submissions.

* :mod:`.markers` parses a lab's exercises (solution and check cells); :mod:`.student`
  (:func:`write_student_versions` / :func:`student_version`) makes the version handed out: answers
  replaced by stubs, outputs cleared, hidden checks removed, a record of the exercises and check hashes.
* :func:`grade_batch`: run every ``SUBMISSIONS/<student>/<NN_topic>.ipynb`` with papermill in the CI
  profile, each in its own bubblewrap sandbox (:mod:`.sandbox`) under a wall-time limit, with every
  check reduced to the cell that exports its values (:mod:`.checks`, :mod:`labutils.grading`); the
  checks' assertions then run here, on those values, into ``gradebook.csv`` and ``summary.md``.
  :func:`grade_one` grades one submission; pass ``map=`` to run it elsewhere.

* :mod:`.export` renders the labs as nbgrader or otter-grader courses (:mod:`.export_cells`: a check cell
  as code both tools run in the student's kernel).

Command line: ``python -m labutils.grade {student,grade,list,gradebook,export} --help``; see docs/GRADING.md.
"""

from labutils.tools.grade.assemble import assemble
from labutils.tools.grade.gradebook import Row, read_csv, summary, to_csv, write_gradebook
from labutils.tools.grade.markers import Check, Exercise, parse_exercises
from labutils.tools.grade.runner import Settings, Submission, discover, grade_batch, grade_one, grade_task
from labutils.tools.grade.student import student_version, write_student_versions

__all__ = [
    "Check", "Exercise", "Row", "Settings", "Submission", "assemble", "discover", "grade_batch", "grade_one",
    "grade_task", "parse_exercises", "read_csv", "student_version", "summary", "to_csv", "write_gradebook",
    "write_student_versions",
]
