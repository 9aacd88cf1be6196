"""Drive a notebook in JupyterLab the way a student does: open it, Run All Cells, wait, read what shows, move a slider.

Everything here reads the rendered page (DOM and pixels), not the kernel: a widget that the kernel created
but the browser failed to render counts as missing.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from playwright.sync_api import Locator, Page


class BrowserCheckFailed(AssertionError):
    """What the student would see is wrong: an error in a cell, a widget not rendered, an image not updating."""


PROGRESS_BAR = ".jp-OutputArea-output :is(.widget-hprogress, .widget-vprogress, .widget-progress) .progress-bar"

# Counts every progress-bar widget that ever appears, also those closed when done (tqdm's leave=False).
COUNT_PROGRESS_BARS_JS = r"""(selector) => {
  window.genlabsBarsSeen = 0;
  const mark = () => {
    for (const bar of document.querySelectorAll(selector)) {
      if (!bar.dataset.genlabsSeen) { bar.dataset.genlabsSeen = '1'; window.genlabsBarsSeen += 1; }
    }
  };
  new MutationObserver(mark).observe(document.body, {childList: true, subtree: true});
  mark();
}"""

# One look at the open notebook: code-cell prompts, kernel status, errors shown, progress bars, dialogs.
NOTEBOOK_STATE_JS = r"""(progressBar) => {
  const cells = [...document.querySelectorAll('.jp-Notebook .jp-Cell')];
  const errors = [];
  cells.forEach((cell, i) => {
    for (const out of cell.querySelectorAll('.jp-OutputArea-output')) {
      const mime = out.dataset.mimeType || '';
      const text = out.textContent || '';
      if (mime === 'application/vnd.jupyter.error' ||
          (mime === 'application/vnd.jupyter.stderr' && text.includes('Traceback')) ||
          text.includes('Error displaying widget')) {
        errors.push({cell: i, text: text.slice(0, 3000)});
      }
    }
  });
  const prompts = [...document.querySelectorAll('.jp-Notebook .jp-CodeCell .jp-InputArea-prompt')]
    .map(p => p.textContent.trim());
  const indicator = document.querySelector('.jp-Notebook-ExecutionIndicator');
  const bars = document.querySelectorAll(progressBar);
  const dialog = document.querySelector('.jp-Dialog');
  const kernel = document.querySelector('.jp-NotebookPanel-toolbar :is(.jp-KernelName, .jp-Toolbar-kernelName)');
  return {prompts, status: indicator ? indicator.dataset.status : null, kernel: kernel ? kernel.textContent.trim() : '',
          errors, progress_bars: bars.length, progress_bars_seen: window.genlabsBarsSeen || 0,
          n_cells: cells.length, dialog: dialog ? dialog.textContent.slice(0, 500) : null};
}"""

# Images a student sees in the outputs near ``el`` (its cell), else in the whole notebook: <img> src / canvas pixels.
IMAGES_JS = r"""(el) => {
  const pick = root => [...root.querySelectorAll('.jp-OutputArea img, .jp-OutputArea canvas')];
  let found = pick(el.closest('.jp-Cell'));
  if (!found.length) found = pick(document.querySelector('.jp-Notebook'));
  return found.map(e => e.tagName === 'IMG' ? e.src : e.toDataURL());
}"""

SLIDER_LABELS_JS = r"""() => [...document.querySelectorAll('.jp-OutputArea .widget-slider')].map(s => {
  const label = s.querySelector('.widget-label');
  return label ? (label.textContent.trim() || label.title || '') : '';
})"""

IMAGE_SELECTOR = ".jp-OutputArea img, .jp-OutputArea canvas"
NOTEBOOK_SCROLLER = ".jp-NotebookPanel .jp-WindowedPanel-outer"  # the element that scrolls the cells


@dataclass
class NotebookState:
    prompts: list[str]
    status: str | None
    kernel: str
    errors: list[dict[str, object]]
    progress_bars: int  # shown now
    progress_bars_seen: int  # shown at any time since the notebook opened
    n_cells: int
    dialog: str | None

    @property
    def all_cells_ran(self) -> bool:
        """Every code cell shows an execution count (``[12]:``): none queued ``[*]`` or never run ``[ ]``."""
        return bool(self.prompts) and all(re.fullmatch(r"\[\d+\]:", p) for p in self.prompts)


def notebook_state(page: Page) -> NotebookState:
    """What the open notebook shows right now (one DOM read)."""
    return NotebookState(**page.evaluate(NOTEBOOK_STATE_JS, PROGRESS_BAR))


def fail_on_errors(state: NotebookState, when: str) -> None:
    """Raise :class:`BrowserCheckFailed` with the first error shown, if any; ``when`` says at which step."""
    if state.errors:
        first = state.errors[0]
        raise BrowserCheckFailed(f"{when}: {len(state.errors)} output(s) show an error; first, in cell "
                                 f"{first['cell']} (counting from 0, Markdown cells included):\n{first['text']}")


def _wait(condition: Callable[[], bool], timeout_s: float, what: str, poll_s: float = 0.5) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise BrowserCheckFailed(f"timed out after {timeout_s:.0f} s waiting for {what}")
        time.sleep(poll_s)


def open_notebook(page: Page, url: str, timeout_s: float = 120.0) -> None:
    """Load JupyterLab at ``url`` and wait for the notebook's kernel to be idle."""
    page.goto(url, timeout=timeout_s * 1000)
    page.wait_for_selector(".jp-NotebookPanel .jp-Notebook .jp-Cell", timeout=timeout_s * 1000)

    idle_polls: list[bool] = []

    def kernel_idle() -> bool:
        # before its kernel starts the notebook also reads 'idle', with kernel name '' or 'No Kernel'
        state = notebook_state(page)
        if state.dialog:
            raise BrowserCheckFailed(f"JupyterLab opened a dialog instead of the notebook: {state.dialog}")
        idle_polls.append(state.status == "idle" and state.kernel not in ("", "No Kernel"))
        return idle_polls[-2:] == [True, True]

    _wait(kernel_idle, timeout_s, "the notebook's kernel to start and be idle")
    page.evaluate(COUNT_PROGRESS_BARS_JS, PROGRESS_BAR)


def run_all_cells(page: Page, timeout_s: float, report_every_s: float = 60.0) -> NotebookState:
    """Run > Run All Cells through the menu bar, then wait until every code cell ran and the kernel is idle.

    Fails at once when an output shows an error or a dialog opens, and after ``timeout_s`` seconds.
    """
    stored_prompts = notebook_state(page).prompts  # checked cells come with their stored execution counts
    page.locator(".lm-MenuBar-itemLabel", has_text=re.compile(r"^Run$")).click()
    page.locator(".lm-Menu .lm-Menu-itemLabel:visible", has_text=re.compile(r"^Run All Cells$")).click()
    started = last_report = time.monotonic()
    running_seen = False
    settled = 0
    while True:
        state = notebook_state(page)
        fail_on_errors(state, "while running all cells")
        if state.dialog:
            raise BrowserCheckFailed(f"a dialog opened while running: {state.dialog}")
        running_seen = running_seen or state.status == "busy" or any("*" in p for p in state.prompts) \
            or state.prompts != stored_prompts
        # done: the run began, and then idle with every prompt numbered on 3 polls in a row (1 s; the kernel
        # is briefly idle between two cells)
        settled = settled + 1 if running_seen and state.status == "idle" and state.all_cells_ran else 0
        if settled >= 3:
            return state
        now = time.monotonic()
        done = sum(bool(re.fullmatch(r"\[\d+\]:", p)) for p in state.prompts)
        if now - started > timeout_s:
            raise BrowserCheckFailed(f"Run All Cells did not finish in {timeout_s:.0f} s: {done} of "
                                     f"{len(state.prompts)} code cells done, kernel {state.status}")
        if now - last_report > report_every_s:
            print(f"  ... {now - started:.0f} s: {done}/{len(state.prompts)} code cells done, kernel {state.status}",
                  flush=True)
            last_report = now
        time.sleep(0.5)


def find_slider(page: Page, description: str) -> Locator:
    """The first rendered ipywidgets slider whose label reads ``description``."""
    labels: list[str] = page.evaluate(SLIDER_LABELS_JS)
    if description not in labels:
        raise BrowserCheckFailed(f"no rendered slider labelled {description!r}; sliders on the page: {labels}")
    return page.locator(".jp-OutputArea .widget-slider").nth(labels.index(description))


def images_near(slider: Locator) -> list[str]:
    """The sources (``<img>`` src or canvas data URL) of the output images in the slider's cell, in page order."""
    return slider.evaluate(IMAGES_JS)


def image_locators(page: Page, slider: Locator) -> Locator:
    """Locator for the elements :func:`images_near` reads (same order)."""
    cell = slider.locator("xpath=ancestor::div[contains(concat(' ', @class, ' '), ' jp-Cell ')][1]")
    return cell.locator(IMAGE_SELECTOR) if cell.locator(IMAGE_SELECTOR).count() else page.locator(
        f".jp-Notebook :is({IMAGE_SELECTOR})")


def move_slider(page: Page, slider: Locator, steps: int) -> tuple[str, str]:
    """Move the slider as a student does: focus its handle, press arrow keys (drag if keys do nothing).

    Returns the readout (the value shown next to the slider) before and after.
    """
    readout = slider.locator(".widget-readout")
    handle = slider.locator(".noUi-handle").first
    before = readout.inner_text().strip()
    handle.scroll_into_view_if_needed()
    for key in ("ArrowRight", "ArrowLeft"):  # the slider may already sit at its maximum
        handle.focus()
        for _ in range(steps):
            handle.press(key)
        try:
            _wait(lambda: readout.inner_text().strip() != before, 5.0, "the readout to change")
            return before, readout.inner_text().strip()
        except BrowserCheckFailed:
            continue
    box = handle.bounding_box()
    if box is None:
        raise BrowserCheckFailed("the slider handle is not visible")
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    page.mouse.move(x, y)
    page.mouse.down()
    page.mouse.move(x - 60, y, steps=10)
    page.mouse.up()
    _wait(lambda: readout.inner_text().strip() != before, 5.0, "the readout to change after dragging the slider")
    return before, readout.inner_text().strip()


def wait_for_new_images(page: Page, slider: Locator, before: list[str], timeout_s: float) -> tuple[list[str], int]:
    """Wait until the images near the slider differ from ``before`` and stop changing; return them and the index
    of the first one that changed. Fails at once if an output shows an error (e.g. the slider's callback raised)."""
    seen: list[list[str]] = []

    def changed_and_stable() -> bool:
        fail_on_errors(notebook_state(page), "after moving the slider")
        now = images_near(slider)
        seen.append(now)
        return len(now) == len(before) and now != before and len(seen) >= 2 and seen[-2] == now

    _wait(changed_and_stable, timeout_s, "the image to change after moving the slider")
    after = seen[-1]
    return after, next(i for i, (a, b) in enumerate(zip(before, after)) if a != b)


def screenshot_notebook(page: Page, stem: Path, tile_px: int = 10000) -> list[Path]:
    """The whole notebook as rendered, in tiles ``<stem>-1.png``, ``-2.png``, ... of at most ``tile_px`` pixels of
    notebook each (the window grows to that height, then shrinks back). Returns the files written."""
    viewport = page.viewport_size or {"width": 1400, "height": 1000}
    content, visible = page.evaluate(f"() => {{ const n = document.querySelector('{NOTEBOOK_SCROLLER}');"
                                     " return n ? [n.scrollHeight, n.clientHeight] : [0, 0]; }")
    tile = max(visible, min(content, tile_px))
    page.set_viewport_size({"width": viewport["width"], "height": int(viewport["height"] + tile - visible)})
    paths = []
    try:
        for k, offset in enumerate(range(0, max(content, 1), tile), start=1):
            page.evaluate(f"() => document.querySelector('{NOTEBOOK_SCROLLER}')?.scrollTo(0, {offset})")
            page.wait_for_timeout(500)
            paths.append(stem.with_name(f"{stem.name}-{k}.png"))
            page.screenshot(path=str(paths[-1]))
    finally:
        page.set_viewport_size(viewport)
    return paths
