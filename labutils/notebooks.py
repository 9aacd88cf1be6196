"""``python -m labutils.notebooks run|refs|strip|verify ...``: the command behind ``make run/refs``.

The code lives in :mod:`labutils.tools.notebooks` (tooling that never runs inside a lab); this
module only forwards the command line to it.
"""

from labutils.tools.notebooks import main

if __name__ == "__main__":
    raise SystemExit(main())
