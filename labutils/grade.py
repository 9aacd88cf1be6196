"""``python -m labutils.grade ...``: the instructors' command, kept under its short name.

The grading code lives in :mod:`labutils.tools.grade` (tooling that never runs inside a lab); this
module only forwards the command line to it.
"""

from labutils.tools.grade.__main__ import main

if __name__ == "__main__":
    raise SystemExit(main())
