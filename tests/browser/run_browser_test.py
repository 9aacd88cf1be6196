#!/usr/bin/env python3
"""The labs as a student sees them: run a notebook in JupyterLab in a real (headless) Chromium and check it.

    .venv/bin/python tests/browser/run_browser_test.py [NOTEBOOK] [--slider DESCRIPTION]
    .venv/bin/python tests/browser/run_browser_test.py --demo ok        # the test's own small widget notebook

Starts a private JupyterLab (free port, random token, temporary config/settings, kernel in the CI profile),
opens NOTEBOOK, clicks Run > Run All Cells, waits until every cell ran, then checks that
1. no output shows an error (a traceback, or "Error displaying widget"),
2. tqdm progress bars rendered as widgets (a progress-bar element in the outputs),
3. the slider labelled DESCRIPTION rendered, and moving it (arrow keys on its handle) changes the image
   drawn next to it, in pixels.
Screenshots go to build/screenshots/. Exit status: 0 passed, 1 a check failed, 2 could not run here.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import signal
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from playwright.sync_api import Page

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
VENV = REPO / ".venv"
DEFAULT_NOTEBOOK = REPO / "notebooks" / "03_vae.ipynb"
DEFAULT_SLIDER = "z1"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--disable-quic",
                 # containers often give /dev/shm 64 MB, too little for Chromium: use /tmp instead
                 "--disable-dev-shm-usage"]


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("notebook", nargs="?", type=Path, default=DEFAULT_NOTEBOOK,
                        help=f"notebook to run (default: {DEFAULT_NOTEBOOK.relative_to(REPO)})")
    parser.add_argument("--slider", default=DEFAULT_SLIDER, help="label of the slider to move (default: %(default)s)")
    parser.add_argument("--demo", choices=("ok", "error", "frozen", "no-progress"),
                        help="run the test's own small widget notebook instead (see demo_notebook.py)")
    parser.add_argument("--no-slider", action="store_true", help="skip the slider check (notebooks without one)")
    parser.add_argument("--no-progress", action="store_true", help="skip the progress-bar check")
    parser.add_argument("--steps", type=int, default=10, help="arrow-key presses on the slider (default: %(default)s)")
    parser.add_argument("--run-timeout", type=float, default=1200.0,
                        help="seconds allowed for Run All Cells (default: %(default)s)")
    parser.add_argument("--image-timeout", type=float, default=120.0,
                        help="seconds allowed for the image to update after the slider moves (default: %(default)s)")
    parser.add_argument("--screenshots", type=Path, default=REPO / "build" / "screenshots",
                        help="folder for the screenshots (default: build/screenshots)")
    parser.add_argument("--fresh-build", action="store_true",
                        help="give the kernel an empty $GENLABS_BUILD (no train-or-load cache: trains from scratch)")
    parser.add_argument("--chromium", type=Path, default=Path("/usr/bin/chromium"), help="Chromium executable")
    args = parser.parse_args(argv)
    if args.steps < 1:
        parser.error(f"--steps must be at least 1, got {args.steps}")
    return args


def in_project_venv() -> bool:
    return Path(sys.prefix).resolve() == VENV.resolve()


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def is_file_write(method: str, url: str) -> bool:
    """A request by which JupyterLab writes a file: save (PUT), rename (PATCH) or delete on /api/contents/."""
    return method in ("PUT", "PATCH", "DELETE") and "/api/contents/" in url.split("?")[0]


def check_notebook(page: Page, lab_url: str, args: argparse.Namespace, stem: str, timings: dict[str, float]) -> None:
    """Everything the student would notice, in the order they would notice it; raises BrowserCheckFailed."""
    import lab_page as lp

    shots = args.screenshots
    t0 = time.monotonic()
    lp.open_notebook(page, lab_url)
    timings["open notebook, kernel idle"] = time.monotonic() - t0

    t0 = time.monotonic()
    lp.run_all_cells(page, args.run_timeout)
    timings["Run All Cells"] = time.monotonic() - t0
    page.wait_for_timeout(1000)  # let the last widget views attach
    lp.screenshot_notebook(page, shots / f"{stem}-after-run")
    state = lp.notebook_state(page)
    lp.fail_on_errors(state, "after Run All Cells")
    print(f"  all {len(state.prompts)} code cells ran, no errors shown", flush=True)
    if state.progress_bars_seen < 1 and not args.no_progress:
        raise lp.BrowserCheckFailed("no tqdm progress bar rendered as a widget (no progress-bar element in any output,"
                                    " at any time during the run)")
    print(f"  {state.progress_bars_seen} progress bar widget(s) rendered, {state.progress_bars} still shown",
          flush=True)
    if args.no_slider:
        return

    t0 = time.monotonic()
    slider = lp.find_slider(page, args.slider)
    slider.scroll_into_view_if_needed()
    before = lp.images_near(slider)
    if not before:
        raise lp.BrowserCheckFailed(f"the slider {args.slider!r} rendered, but no output image is shown with it")
    # what the student looks at: the cell's outputs (the slider and its picture), not its code
    outputs = slider.locator("xpath=ancestor::div[contains(concat(' ', @class, ' '), ' jp-Cell-outputWrapper ')][1]")
    outputs.screenshot(path=str(shots / f"{stem}-slider-before.png"))
    images = lp.image_locators(page, slider)
    pixels_before = [images.nth(i).screenshot() for i in range(len(before))]
    old_value, new_value = lp.move_slider(page, slider, args.steps)
    after, changed = lp.wait_for_new_images(page, slider, before, args.image_timeout)
    page.wait_for_timeout(300)  # the new <img> decodes before it paints
    pixels_after = images.nth(changed).screenshot()
    timings["move slider, image updated"] = time.monotonic() - t0
    (shots / f"{stem}-image-before.png").write_bytes(pixels_before[changed])
    (shots / f"{stem}-image-after.png").write_bytes(pixels_after)
    outputs.screenshot(path=str(shots / f"{stem}-slider-after.png"))
    if pixels_after == pixels_before[changed]:
        raise lp.BrowserCheckFailed(f"slider {args.slider!r} {old_value} -> {new_value}: the image data changed but "
                                    "the picture on screen looks the same")
    print(f"  slider {args.slider!r} {old_value} -> {new_value}: image {changed + 1} of {len(after)} redrawn, "
          "pixels differ", flush=True)
    lp.fail_on_errors(lp.notebook_state(page), "after moving the slider")


def run(args: argparse.Namespace, notebook: Path, timings: dict[str, float]) -> None:
    """Start JupyterLab and Chromium, run :func:`check_notebook`, always stop both."""
    from lab_page import BrowserCheckFailed
    from lab_server import LabServer
    from playwright.sync_api import sync_playwright

    stem = notebook.stem
    args.screenshots.mkdir(parents=True, exist_ok=True)
    for stale in args.screenshots.glob(f"{stem}-*.png"):  # a passing run must not leave an old failure shot
        stale.unlink()
    with tempfile.TemporaryDirectory(prefix="genlabs-browser-build-") as fresh_build:
        env = {"GENLABS_PROFILE": "ci"}
        if args.fresh_build:
            env["GENLABS_BUILD"] = fresh_build
        t0 = time.monotonic()
        with LabServer(notebook.parent, VENV, extra_env=env) as lab, sync_playwright() as pw:
            timings["start JupyterLab"] = time.monotonic() - t0
            print(f"JupyterLab on {lab.base_url}, opening {notebook.name}", flush=True)
            t0 = time.monotonic()
            browser = pw.chromium.launch(executable_path=str(args.chromium), headless=True, args=CHROMIUM_ARGS)
            timings["start Chromium"] = time.monotonic() - t0
            page_errors: list[str] = []
            file_writes: list[str] = []
            try:
                page = browser.new_page(viewport={"width": 1400, "height": 1000})
                page.on("pageerror", lambda exc: page_errors.append(str(exc)))
                page.on("request", lambda req: file_writes.append(f"{req.method} {req.url.split('?')[0]}")
                        if is_file_write(req.method, req.url) else None)
                try:
                    check_notebook(page, lab.url(notebook.name), args, stem, timings)
                except Exception:
                    page.screenshot(path=str(args.screenshots / f"{stem}-failure.png"))
                    print(f"screenshot of the failure: {args.screenshots / f'{stem}-failure.png'}", file=sys.stderr)
                    if page_errors:
                        print("JavaScript errors on the page:\n  " + "\n  ".join(page_errors[:5]), file=sys.stderr)
                    raise
                if file_writes:
                    raise BrowserCheckFailed(f"JupyterLab wrote to the served files: {file_writes}; the committed "
                                             "notebook must stay as it is (autosave should be off)")
            finally:
                browser.close()
                t_checked = time.monotonic()
        timings["stop JupyterLab"] = time.monotonic() - t_checked


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    # `kill` / a CI timeout sends SIGTERM: unwind like Ctrl-C so the finally blocks stop JupyterLab and Chromium
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    if not in_project_venv() and (VENV / "bin" / "python").is_file():
        os.execv(VENV / "bin" / "python", [str(VENV / "bin" / "python"), str(Path(__file__).resolve()), *sys.argv[1:]])
    sys.path.insert(0, str(HERE))
    from deps import SetupError, ensure_chromium, ensure_playwright

    started = time.monotonic()
    timings: dict[str, float] = {}
    try:
        ensure_chromium(args.chromium)
        ensure_playwright(VENV / "bin" / "python")
    except SetupError as err:
        print(f"browser test cannot run: {err}", file=sys.stderr)
        return 2
    timings["setup"] = time.monotonic() - started
    from lab_page import BrowserCheckFailed
    from playwright.sync_api import Error as PlaywrightError

    with tempfile.TemporaryDirectory(prefix="genlabs-browser-demo-") as demo_dir:
        if args.demo:
            from demo_notebook import write_demo

            notebook = write_demo(Path(demo_dir) / f"demo_{args.demo.replace('-', '_')}.ipynb", args.demo)
        else:
            notebook = args.notebook.resolve()
        if not notebook.is_file() or notebook.suffix != ".ipynb":
            print(f"browser test cannot run: {notebook} is not a notebook file; pass one, or --demo ok",
                  file=sys.stderr)
            return 2
        stored = digest(notebook)
        slider = "no slider" if args.no_slider else f"slider {args.slider!r}"
        print(f"browser test: {notebook} ({slider}, GENLABS_PROFILE=ci)", flush=True)
        try:
            run(args, notebook, timings)
            if digest(notebook) != stored:  # not JupyterLab (its writes are caught above): someone else
                print(f"note: {notebook} changed on disk during the test (another process wrote it)", file=sys.stderr)
        except BrowserCheckFailed as err:
            print(f"FAILED: {err}", file=sys.stderr)
            return 1
        except PlaywrightError as err:  # a page element never appeared, the browser died, ...
            print(f"FAILED (in the browser): {err}", file=sys.stderr)
            return 1
        except (RuntimeError, ValueError) as err:
            print(f"browser test cannot run: {err}", file=sys.stderr)
            return 2
        finally:
            timings["total"] = time.monotonic() - started
            print("timings (s): " + ", ".join(f"{k} {v:.1f}" for k, v in timings.items()), flush=True)
    checked = ["no errors shown"] + ([] if args.no_progress else ["progress bars render"])
    checked += [] if args.no_slider else [f"slider {args.slider!r} redraws the image"]
    print(f"PASSED: {notebook.name} in JupyterLab: {', '.join(checked)}. Screenshots: {args.screenshots}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
