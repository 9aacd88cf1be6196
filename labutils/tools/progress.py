"""What ``make run`` prints while a notebook runs headless: the cell, the time, the training bars.

papermill alone prints nothing until a notebook ends (05's full profile: 17 silent minutes on a CPU).
:func:`engine_kwargs` gives ``papermill.execute_notebook`` an engine whose client reports to a
:class:`Progress`:

- a line when each code cell starts: ``[05_gan_mnist] cell 12/31 started at 0:03:10 | hist = fit_gan(...``;
- while a cell runs, a line every ``every`` seconds (default 8, so never 10 s without one; also while the
  kernel starts or stops):
  ``[05_gan_mnist] cell 12/31 running 0:01:20 (notebook 0:04:30) | fit_gan:  45%| 900/2000 [01:19<01:37, 11.3it/s]``
  with the newest tqdm bar of the cell (tqdm.auto draws ipywidgets in the kernel: the bar's text is read
  from the widget messages, so the bars stay widgets in JupyterLab) or else its last printed line;
- a line when the notebook ends; :func:`summary_table` then prints notebook, profile, time and checks.

Only the launcher uses this (``labutils.tools.notebooks``); no lab imports it.
"""

from __future__ import annotations

import html
import re
import sys
import threading
import time
from collections.abc import Callable, Iterable
from typing import TextIO

ENGINE_NAME = "genlabs-progress"
EVERY_S = 8.0  # heartbeat period while a cell runs: under the 10 s promised in the README
_TAG = re.compile(r"<[^>]+>")


def clock(seconds: float) -> str:
    """``h:mm:ss`` for a duration in seconds."""
    s = int(max(0.0, seconds))
    return f"{s // 3600}:{s % 3600 // 60:02d}:{s % 60:02d}"


def _first_line(source: str, width: int = 60) -> str:
    lines = [ln.strip() for ln in source.splitlines() if ln.strip() and not ln.lstrip().startswith("#")]
    line = lines[0] if lines else ""
    return line if len(line) <= width else line[: width - 3] + "..."


def _last_text_line(text: str) -> str:
    """The last visible line of a stream chunk (``\\r`` rewinds, as tqdm's text bars do)."""
    for line in reversed(re.split(r"[\r\n]", text)):
        if line.strip():
            return line.strip()
    return ""


class Progress:
    """Collects what a running notebook does and prints progress lines to ``out``.

    ``clock_fn`` and ``every`` are there for tests. Call :meth:`close` (or use it as a context manager)
    to stop the heartbeat thread.
    """

    def __init__(self, name: str, *, out: TextIO | None = None, every: float = EVERY_S,
                 clock_fn: Callable[[], float] = time.monotonic):
        self.name, self.out, self.every, self.now = name, out or sys.stdout, every, clock_fn
        self.t0 = self.now()
        self.cell_t0: float | None = None
        self.cell_label = ""
        self.phase = "starting the kernel"  # what is going on while no cell runs
        self.last_print = self.t0
        self.last_output = ""
        self.widgets: dict[str, dict] = {}  # comm id -> widget state (tqdm: HBox of HTML, FloatProgress, HTML)
        self.latest_bar: str | None = None  # comm id of the widget updated last
        self.n_code = 0
        self._code_index: dict[int, int] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, name=f"progress-{name}", daemon=True)
        self._thread.start()

    # -- wiring -------------------------------------------------------------------------------
    def set_notebook(self, nb) -> None:
        """Number the code cells of the notebook about to run (papermill's injected cell included)."""
        code = [i for i, c in enumerate(nb.cells) if c.cell_type == "code"]
        self.n_code = len(code)
        self._code_index = {cell_index: k + 1 for k, cell_index in enumerate(code)}

    def cell_start(self, cell, cell_index: int) -> None:
        with self._lock:
            k = self._code_index.get(cell_index, cell_index + 1)
            self.cell_label = f"cell {k}/{self.n_code or '?'}"
            self.cell_t0 = self.now()
            self.last_output, self.latest_bar = "", None
            self._print(f"{self.cell_label} started at {clock(self.cell_t0 - self.t0)} | {_first_line(cell.source)}")

    def cell_complete(self, cell, cell_index: int, **_) -> None:
        with self._lock:
            if self.cell_t0 is not None and self.now() - self.cell_t0 >= self.every:
                self._print(f"{self.cell_label} done in {clock(self.now() - self.cell_t0)}")
            self.cell_t0 = None
            self.phase = f"after {self.cell_label}: saving, next cell or stopping the kernel"

    def message(self, msg: dict) -> None:
        """One kernel IOPub message of the running cell: remember its last output line and widget states."""
        kind, content = msg.get("msg_type", ""), msg.get("content", {})
        with self._lock:
            if kind == "stream":
                line = _last_text_line(content.get("text", ""))
                if line:
                    self.last_output = line
            elif kind in ("comm_open", "comm_msg"):
                state = (content.get("data") or {}).get("state")
                if isinstance(state, dict):
                    self.widgets.setdefault(content.get("comm_id", ""), {}).update(state)
                    if "value" in state:
                        self.latest_bar = content.get("comm_id", "")

    # -- reporting ----------------------------------------------------------------------------
    def bar_text(self) -> str:
        """The text of the tqdm widget bar updated last (``desc:  45%| 900/2000 [01:19<01:37, 11.3it/s]``)."""
        if self.latest_bar is None:
            return ""
        ref = f"IPY_MODEL_{self.latest_bar}"
        box = next((w for w in self.widgets.values() if ref in (w.get("children") or [])), None)
        parts = []
        for child in (box.get("children") if box else [ref]):
            state = self.widgets.get(str(child).removeprefix("IPY_MODEL_"), {})
            value = state.get("value")
            if isinstance(value, str):
                # tqdm's widget pads with figure spaces (U+2007) and no-break spaces: show plain ones
                text = html.unescape(_TAG.sub("", value)).replace("\u2007", " ").replace("\xa0", " ").strip()
                if text:
                    parts.append(text)
        return "| ".join(parts)

    def status(self) -> str:
        now = self.now()
        if self.cell_t0 is None:
            return f"{self.phase} (notebook {clock(now - self.t0)})"
        what = self.bar_text() or self.last_output
        line = f"{self.cell_label} running {clock(now - self.cell_t0)} (notebook {clock(now - self.t0)})"
        return f"{line} | {what[:120]}" if what else line

    def _print(self, text: str) -> None:
        print(f"[{self.name}] {text}", file=self.out, flush=True)
        self.last_print = self.now()

    def _beat(self) -> None:
        while not self._stop.wait(min(0.25, self.every / 4)):
            with self._lock:
                if self.now() - self.last_print >= self.every:
                    self._print(self.status())

    def finish(self, ok: bool = True) -> None:
        self.close()
        self._print(f"{'done' if ok else 'FAILED'} after {clock(self.now() - self.t0)}")

    def close(self) -> None:
        self._stop.set()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(timeout=2)

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _engine_class():
    from papermill.clientwrap import PapermillNotebookClient
    from papermill.engines import NBClientEngine

    class ReportingClient(PapermillNotebookClient):
        """papermill's client, telling a :class:`Progress` about cells and kernel messages."""

        def __init__(self, nb_man, *, progress: Progress, **kw):
            super().__init__(nb_man, on_cell_execute=progress.cell_start, on_cell_executed=progress.cell_complete,
                             **kw)
            self.progress = progress
            progress.set_notebook(nb_man.nb)

        def process_message(self, msg, cell, cell_index):
            self.progress.message(msg)
            return super().process_message(msg, cell, cell_index)

    class ReportingEngine(NBClientEngine):
        """papermill's nbclient engine (same arguments) with :class:`ReportingClient`."""

        @classmethod
        def execute_managed_notebook(cls, nb_man, kernel_name, log_output=False, stdout_file=None,
                                     stderr_file=None, start_timeout=60, execution_timeout=None, *,
                                     progress: Progress, **kwargs):
            from papermill.engines import logger
            from papermill.utils import merge_kwargs, remove_args

            kwargs = remove_args(["input_path"], **kwargs)
            safe = remove_args(["timeout", "startup_timeout"], **kwargs)
            final = merge_kwargs(safe, timeout=execution_timeout if execution_timeout else kwargs.get("timeout"),
                                 startup_timeout=start_timeout, kernel_name=kernel_name, log=logger,
                                 log_output=log_output, stdout_file=stdout_file, stderr_file=stderr_file)
            return ReportingClient(nb_man, progress=progress, **final).execute()

    return ReportingEngine


def engine_kwargs(progress: Progress | None) -> dict:
    """Extra ``papermill.execute_notebook`` arguments that make it report to ``progress`` (none for None)."""
    if progress is None:
        return {}
    from papermill.engines import papermill_engines

    if ENGINE_NAME not in papermill_engines._engines:
        papermill_engines.register(ENGINE_NAME, _engine_class())
    return {"engine_name": ENGINE_NAME, "progress": progress}


def run_reported(name: str, profile: str, summary: list, run: Callable[[Progress], object]) -> object:
    """``run(progress)`` with progress lines for notebook ``name``; appends its row to ``summary`` even if it fails."""
    t0, ok = time.perf_counter(), False
    with Progress(name) as shown:
        try:
            result = run(shown)
            ok = True
            return result
        finally:
            shown.finish(ok)
            summary.append((name, profile, time.perf_counter() - t0, checks_of(name), "ok" if ok else "FAILED"))


def checks_of(notebook: str) -> tuple[int, int] | None:
    """(passed, total) of the checks the last run of ``notebook`` recorded; None if it recorded none."""
    from labutils import results

    recorded = results.load(notebook).get(results.CHECKS_KEY) or {}
    if not recorded:
        return None
    return sum(bool(c.get("passed")) for c in recorded.values()), len(recorded)


def summary_table(rows: Iterable[tuple[str, str, float, tuple[int, int] | None, str]]) -> str:
    """A plain-text table: notebook, profile, time, checks passed / total, status."""
    head = ("notebook", "profile", "time", "checks passed", "status")
    body = [(nb, prof, clock(t), f"{c[0]}/{c[1]}" if c else "none recorded", status)
            for nb, prof, t, c, status in rows]
    widths = [max(len(str(r[i])) for r in [head, *body]) for i in range(len(head))]
    fmt = "  ".join(f"{{:<{w}}}" for w in widths)
    lines = [fmt.format(*head).rstrip(), fmt.format(*("-" * w for w in widths))] + [fmt.format(*r).rstrip()
                                                                                       for r in body]
    return "\n".join(lines)
