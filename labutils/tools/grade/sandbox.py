"""The sandbox one submission runs in: bubblewrap (``bwrap``, Debian/Ubuntu package ``bubblewrap``).

What the sandboxed command sees and may do:

* no network (a network namespace of its own, loopback only), its own PID, IPC and UTS namespaces,
  and no capabilities (user ``nobody`` in a user namespace); every process of the run, detached
  (double fork, ``setsid``) or not, dies with it (``--die-with-parent``, the PID namespace's init);
* read-only: the system (``/usr``, ``/bin``, ``/lib*``, ``/sbin``, a few files of ``/etc``), the Python installation and
  virtualenv, the ``labutils`` package folder, and the MNIST cache when there is one. Nothing else of the
  host exists there: not the instructor notebooks, not the hidden checks' assertions, not the other
  submissions, not the grader's output folder, not ``$HOME``;
* writable: its own work folder (also ``$HOME``) and a private, empty ``/tmp`` and ``/dev/shm``;
* limits: address space (``--memory``) and file size per process; the wall time is the grader's.
"""

from __future__ import annotations

import functools
import resource
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from labutils.tools.launcher import REPO_ROOT

PACKAGE = "bubblewrap"
MISSING = (f"the grader runs every submission in a sandbox made by bubblewrap (`bwrap`), which is not installed: "
           f"install the package `{PACKAGE}` (Debian/Ubuntu: `sudo apt-get install {PACKAGE}`, Fedora: `sudo dnf "
           f"install {PACKAGE}`, or `make setup` as root), or pass --no-sandbox to grade without one (only for "
           "submissions you trust: their code can then read the hidden checks and write anywhere you can)")
SYSTEM_DIRS = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")
# Only these of /etc: what the dynamic loader, Python, SSL and fonts read (never /etc/shadow and the like).
ETC = ("ld.so.cache", "ld.so.conf", "ld.so.conf.d", "passwd", "group", "nsswitch.conf", "hosts", "localtime",
       "timezone", "alternatives", "ssl", "ca-certificates", "fonts", "mime.types")
NOBODY = "65534"


@dataclass(frozen=True)
class Limits:
    """Per-process limits inside the sandbox: address space and largest file written, in bytes."""

    memory_bytes: int = 8 * 2**30
    file_bytes: int = 2 * 2**30


@functools.cache
def bwrap_path() -> str:
    """Path of a working ``bwrap``; ValueError naming the package when it is missing or cannot sandbox here."""
    found = shutil.which("bwrap")
    if found is None:
        raise ValueError(MISSING)
    probe = subprocess.run([found, "--unshare-all", "--die-with-parent", "--ro-bind", "/", "/", "true"],
                           capture_output=True, text=True, timeout=60)
    if probe.returncode:
        raise ValueError(f"bubblewrap ({found}) is installed but cannot make a sandbox on this machine "
                         f"({probe.stderr.strip()[:300]}); allow unprivileged user namespaces, run as root, "
                         "or pass --no-sandbox (trusted submissions only)")
    return found


def _read_only(path: Path) -> list[str]:
    """bwrap arguments that show ``path`` (same place, read-only), as a symbolic link where it is one."""
    if path.is_symlink() and str(path) in SYSTEM_DIRS:
        return ["--symlink", str(path.readlink()), str(path)]
    return ["--ro-bind", str(path.resolve()), str(path)]


def visible_read_only(data_cache: Path | None) -> list[Path]:
    """What the sandbox shows read-only: system folders, Python, the virtualenv, labutils, the MNIST cache."""
    paths = [Path(d) for d in SYSTEM_DIRS if Path(d).exists()]
    paths += [p for p in (Path("/etc") / name for name in ETC) if p.exists()]
    paths += [Path(sys.base_prefix), Path(sys.prefix), REPO_ROOT / "labutils"]
    if data_cache is not None and data_cache.is_dir():
        paths.append(data_cache)
    return list(dict.fromkeys(paths))


def wrap(argv: list[str], *, work: Path, data_cache: Path | None = None) -> list[str]:
    """``argv`` inside a fresh sandbox whose only writable folder is ``work`` (also the working directory)."""
    work = Path(work).resolve()
    args = [bwrap_path(), "--unshare-all", "--die-with-parent", "--new-session", "--cap-drop", "ALL",
            "--uid", NOBODY, "--gid", NOBODY, "--hostname", "sandbox"]
    # the private /tmp first: a virtualenv or checkout that lives under /tmp is then bound on top of it
    args += ["--proc", "/proc", "--dev", "/dev", "--tmpfs", "/dev/shm", "--tmpfs", "/tmp"]
    for path in visible_read_only(data_cache):
        args += _read_only(path)
    args += ["--bind", str(work), str(work), "--chdir", str(work), "--"]
    return args + list(argv)


def set_limits(limits: Limits) -> None:
    """Apply ``limits`` to this process (run in the child between fork and exec; inherited by the sandbox)."""
    resource.setrlimit(resource.RLIMIT_AS, (limits.memory_bytes, limits.memory_bytes))
    resource.setrlimit(resource.RLIMIT_FSIZE, (limits.file_bytes, limits.file_bytes))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
