"""The time limit is the time limit: a run is killed when it is reached, not at some multiple of it.

tests/unit/test_grade.py grades an endless loop under a 30 s limit and times the whole batch; this
fast test times the launcher alone on a busy loop, where nothing but the kill follows the limit.
"""

from __future__ import annotations

import sys
import time

import psutil

from labutils.tools import launcher

LIMIT = 3.0  # seconds
# After the limit the launcher sends SIGKILL to the process tree and reaps it: milliseconds. The margin is for
# scheduling on a loaded 2-core machine (load averages of 16-21 were seen here) and stays a third of the limit,
# so a launcher that waited twice the limit (LIMIT more) fails.
MARGIN = LIMIT / 3


def test_a_busy_loop_is_killed_at_its_time_limit(tmp_path):
    start = time.monotonic()
    run = launcher.run([sys.executable, "-c", "import os; print(os.getpid(), flush=True)\nwhile True:\n    pass"],
                       cwd=tmp_path, env={"PATH": "/usr/bin:/bin"}, timeout=LIMIT)
    wall = time.monotonic() - start
    assert run.timed_out and run.returncode == -9
    assert LIMIT <= wall < LIMIT + MARGIN, f"{wall:.2f} s for a {LIMIT:g} s limit"
    assert run.seconds < LIMIT + MARGIN
    pid = int(run.log_tail.split()[0])
    assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE


def test_a_quick_run_is_not_held_back(tmp_path):
    start = time.monotonic()
    run = launcher.run([sys.executable, "-c", "print('done')"], cwd=tmp_path, env={"PATH": "/usr/bin:/bin"},
                       timeout=LIMIT)
    assert not run.timed_out and run.returncode == 0 and "done" in run.log_tail
    assert time.monotonic() - start < LIMIT
