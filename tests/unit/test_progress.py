"""`make run`'s progress lines: a line at least every 10 s during a slow cell, with the training bar's text."""

import io
import re
import time

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from labutils.tools import notebooks, progress


class _Timed(io.StringIO):
    """Records when each line was written."""

    def __init__(self):
        super().__init__()
        self.lines: list[tuple[float, str]] = []

    def write(self, text):
        self.lines += [(time.monotonic(), line) for line in text.splitlines() if line.strip()]
        return super().write(text)


def test_a_progress_line_at_least_every_10_s_during_a_slow_cell(tmp_path, monkeypatch):
    monkeypatch.setenv("GENLABS_BUILD", str(tmp_path / "build"))
    nb = new_notebook(metadata={"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
                                "language_info": {"name": "python"}})
    slow = ("import time\nfrom tqdm.auto import tqdm\ntime.sleep(4)  # silent for a while, then a training bar\n"
            "for _ in tqdm(range(8), desc='slow training'):\n    time.sleep(1)")
    nb.cells = [new_markdown_cell("# a tiny lab"), new_code_cell("x = 1"), new_code_cell(slow)]
    src = tmp_path / "99_slow.ipynb"
    nbformat.write(nb, src)
    out = _Timed()
    with progress.Progress("99_slow", out=out) as shown:
        t_start = time.monotonic()
        notebooks.execute(src, tmp_path / "out" / src.name, profile="ci", progress=shown)
        t_end = time.monotonic()
        shown.finish()
    lines = [line for _, line in out.lines]
    # papermill injects a parameters cell: 3 code cells in all
    assert any(re.fullmatch(r"\[99_slow\] cell 3/3 started at 0:00:\d\d \| import time", ln) for ln in lines), lines
    beats = [ln for ln in lines if "cell 3/3 running" in ln]
    assert beats, f"no progress line during the 12 s cell: {lines}"
    assert any(re.search(r"slow training:\s+\d+%\| \d/8 \[", ln) for ln in beats), f"no bar text in {beats}"
    # from the start (kernel start-up included) to the end, never 10 s without a line
    times = [t_start] + [t for t, _ in out.lines if t_start <= t <= t_end] + [t_end]
    gaps = [b - a for a, b in zip(times, times[1:])]
    assert max(gaps) <= 10.0, f"{max(gaps):.1f} s without a progress line: {lines}"
    assert lines[-1].startswith("[99_slow] done after 0:00:")


def test_bar_text_joins_the_tqdm_widget_parts():
    shown = progress.Progress("x", out=io.StringIO(), every=1e9)
    try:
        for comm, state in [("box", {"children": ["IPY_MODEL_l", "IPY_MODEL_p", "IPY_MODEL_r"]}),
                            ("l", {"value": "fit:  45%"}), ("p", {"value": 45, "max": 100}),
                            ("r", {"value": " 45/100 [00:10&lt;00:12,  4.40it/s, loss=0.3]"})]:
            shown.message({"msg_type": "comm_msg", "content": {"comm_id": comm, "data": {"state": state}}})
        assert shown.bar_text() == "fit:  45%| 45/100 [00:10<00:12,  4.40it/s, loss=0.3]"
        shown.message({"msg_type": "stream", "content": {"text": "epoch 1\rmore\repoch 2  \n"}})
        assert shown.last_output == "epoch 2"
    finally:
        shown.close()


def test_summary_table_lists_time_and_checks(tmp_path, monkeypatch):
    monkeypatch.setenv("GENLABS_BUILD", str(tmp_path / "build"))
    from labutils import results

    results.set_notebook("98_t")
    results.start_run("ci")
    results.record_check("a", {"passed": True})
    results.record_check("b", {"passed": False})
    assert progress.checks_of("98_t") == (1, 2) and progress.checks_of("97_never_ran") is None
    table = progress.summary_table([("98_t", "ci", 75.2, (1, 2), "ok"), ("97_never_ran", "full", 3, None, "FAILED")])
    head, rule, first, second = table.splitlines()
    assert head.split() == ["notebook", "profile", "time", "checks", "passed", "status"]
    assert first.split() == ["98_t", "ci", "0:01:15", "1/2", "ok"]
    assert second.split()[:3] == ["97_never_ran", "full", "0:00:03"] and "none recorded" in second
