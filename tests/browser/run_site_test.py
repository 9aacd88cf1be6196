#!/usr/bin/env python3
"""The course website as a reader sees it: open `make site`'s build/site in headless Chromium, offline.

    .venv/bin/python tests/browser/run_site_test.py [--site build/site] [--screenshots build/screenshots]
    .venv/bin/python tests/browser/run_site_test.py --break      # a damaged copy of the site: must fail

Serves the site on 127.0.0.1 (a free port; every request elsewhere is blocked and fails the test), opens
the index, then every lab page it links to, and on each page checks that
1. every <img> loaded (naturalWidth > 0),
2. MathJax rendered every formula (each Sphinx `.math` element holds an `mjx-container`, and no raw `$$`
   is left in the page text),
3. there are no console errors, page errors or failed requests,
and on each lab page that the checked-claims note and a download link (fetched: HTTP 200) are there.
Screenshots go to build/screenshots/site-*.png: the index, and the top and the first figure of two labs.
Exit status: 0 passed, 1 a check failed, 2 could not run here (no site, no Chromium).
"""

from __future__ import annotations

import argparse
import functools
import http.server
import re
import shutil
import sys
import tempfile
import threading
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
sys.path.insert(0, str(HERE))

from deps import SetupError, ensure_chromium, ensure_playwright  # noqa: E402

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--disable-quic", "--disable-dev-shm-usage"]
MATHJAX_WAIT_JS = """async () => {
  const wanted = document.querySelector('.math, script[src*="mathjax"]');
  if (!wanted) return 'ok';  // a page without maths does not load MathJax
  for (let i = 0; i < 600 && !(window.MathJax && MathJax.startup && MathJax.startup.promise); i++)
    await new Promise(r => setTimeout(r, 50));
  if (!(window.MathJax && MathJax.startup && MathJax.startup.promise)) return 'MathJax did not start';
  await MathJax.startup.promise;
  return 'ok';
}"""
PAGE_FACTS_JS = """() => {
  const imgs = [...document.images].map(i => ({src: i.getAttribute('src'), complete: i.complete, w: i.naturalWidth}));
  const maths = [...document.querySelectorAll('.math')];
  const unrendered = maths.filter(m => !m.querySelector('mjx-container')).map(m => m.textContent.slice(0, 80));
  return {imgs, maths: maths.length, rendered: document.querySelectorAll('mjx-container').length, unrendered,
          text: document.body.innerText,
          downloads: [...document.querySelectorAll('a.download, a[download]')].map(a => a.href)};
}"""


class Failed(AssertionError):
    pass


def serve(site: Path) -> tuple[http.server.ThreadingHTTPServer, str]:
    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):  # keep the output to the test's own lines
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(site)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"


def break_copy(site: Path, into: Path) -> Path:
    """A copy of the site with an image file removed, MathJax taken off a lab page and a raw `$$` on another."""
    broken = into / "site"
    shutil.copytree(site, broken)
    images = sorted((broken / "_images").glob("*.png"))
    if images:
        images[0].unlink()
    pages = sorted((broken / "labs").glob("*.html"))
    first, last = pages[0], pages[-1]
    # no MathJax on the first lab page: its formulas stay TeX source
    first.write_text(re.sub(r"<script[^>]*mathjax[^>]*></script>", "", first.read_text()))
    # a formula MathJax skips (as it would one it could not parse): the `$$` stays in the text
    last.write_text(last.read_text().replace('<div class="cell', '<p class="tex2jax_ignore">$$x^2$$ raw</p>'
                                             '<div class="cell', 1))
    return broken


def check_page(page, url: str, problems: list[str], is_lab: bool) -> dict:
    page.goto(url, wait_until="load")
    state = page.evaluate(MATHJAX_WAIT_JS)
    if state != "ok":
        problems.append(f"{url}: {state}")
    page.wait_for_load_state("networkidle")
    facts = page.evaluate(PAGE_FACTS_JS)
    name = url.rsplit("/", 1)[-1]
    broken = [i["src"] for i in facts["imgs"] if not i["complete"] or i["w"] == 0]
    if broken:
        problems.append(f"{name}: {len(broken)} image(s) did not load: {broken[:5]}")
    if facts["unrendered"]:
        problems.append(f"{name}: {len(facts['unrendered'])} formula(s) not rendered by MathJax: "
                        f"{facts['unrendered'][:3]}")
    if "$$" in facts["text"]:
        at = facts["text"].index("$$")
        problems.append(f"{name}: raw $$ in the page text: {facts['text'][max(0, at - 40):at + 40]!r}")
    if is_lab:
        if "Checked claims" not in facts["text"] and "printed no checked claims" not in facts["text"]:
            problems.append(f"{name}: no checked-claims note")
        notebooks = [h for h in facts["downloads"] if h.endswith(".ipynb")]
        if not notebooks:
            problems.append(f"{name}: no link to download the notebook")
        for href in notebooks:
            status = page.request.get(href).status
            if status != 200:
                problems.append(f"{name}: download {href} answered {status}")
    print(f"  {name}: {len(facts['imgs'])} images, {facts['maths']} formulas ({facts['rendered']} rendered)",
          flush=True)
    return facts


def run(site: Path, shots: Path, chromium: Path) -> list[str]:
    from playwright.sync_api import sync_playwright

    problems: list[str] = []
    server, base = serve(site)
    shots.mkdir(parents=True, exist_ok=True)
    for old in shots.glob("site-*.png"):
        old.unlink()
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=str(chromium), headless=True, args=CHROMIUM_ARGS)
            try:
                page = browser.new_page(viewport={"width": 1280, "height": 900})
                here = {"url": ""}

                def offline(route):
                    if route.request.url.startswith(base):
                        return route.continue_()
                    problems.append(f"{here['url']}: the page asked the network for {route.request.url}")
                    return route.abort()

                page.route("**/*", offline)
                page.on("console", lambda m: m.type == "error" and problems.append(
                    f"{here['url']}: console error: {m.text[:300]}"))
                page.on("pageerror", lambda e: problems.append(f"{here['url']}: page error: {e}"))
                page.on("requestfailed", lambda r: r.url.startswith(base) and problems.append(
                    f"{here['url']}: request failed: {r.url} ({r.failure})"))

                here["url"] = f"{base}/index.html"
                check_page(page, here["url"], problems, is_lab=False)
                page.screenshot(path=str(shots / "site-index.png"), full_page=True)
                links = page.evaluate(
                    "() => [...new Set([...document.querySelectorAll('a.reference.internal')]"
                    ".map(a => a.href.split('#')[0]).filter(h => /\\/labs\\/[^/]+\\.html$/.test(h)))]")
                on_disk = sorted(f"{base}/labs/{f.name}" for f in (site / "labs").glob("*.html"))
                if sorted(links) != on_disk:
                    problems.append(f"the index links {sorted(links)}, the site has {on_disk}")
                for k, url in enumerate(sorted(set(links) | set(on_disk))):
                    here["url"] = url
                    check_page(page, url, problems, is_lab=True)
                    if k < 2:
                        stem = url.rsplit("/", 1)[-1].removesuffix(".html")
                        page.screenshot(path=str(shots / f"site-{stem}.png"))
                        figure = page.locator("div.cell_output img").first
                        if figure.count():
                            figure.scroll_into_view_if_needed()
                            page.screenshot(path=str(shots / f"site-{stem}-figure.png"))
                if not on_disk:
                    problems.append("the site has no lab pages (run `make run` first)")
            finally:
                browser.close()
    finally:
        server.shutdown()
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--site", type=Path, default=REPO / "build" / "site",
                        help="the built site (default %(default)s)")
    parser.add_argument("--screenshots", type=Path, default=REPO / "build" / "screenshots")
    parser.add_argument("--chromium", type=Path, default=Path("/usr/bin/chromium"))
    parser.add_argument("--break", dest="broken", action="store_true",
                        help="test a damaged copy (an image removed, no MathJax on a page, a raw $$ on another): "
                             "must fail")
    args = parser.parse_args(argv)
    if not (args.site / "index.html").is_file():
        print(f"no site at {args.site}: run `make site` first", file=sys.stderr)
        return 2
    try:
        chromium = ensure_chromium(args.chromium)
        ensure_playwright(REPO / ".venv" / "bin" / "python")
    except SetupError as err:
        print(f"cannot run here: {err}", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="genlabs-site-") as tmp:
        site = break_copy(args.site, Path(tmp)) if args.broken else args.site
        print(f"site test: {site} in {chromium}", flush=True)
        problems = run(site, args.screenshots, chromium)
    if problems:
        print("FAILED:\n  " + "\n  ".join(problems), file=sys.stderr)
        return 1
    print(f"passed: every page offline, images loaded, maths rendered, no console errors; "
          f"screenshots in {args.screenshots}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
