"""tests/browser holds a script, not pytest tests: run it with `make test-browser` (see README.md)."""

# run_browser_test.py matches pytest's `*_test.py` pattern; it needs Chromium and Playwright, so keep it out of
# `pytest` collection (it also runs JupyterLab for minutes).
collect_ignore = ["run_browser_test.py", "run_site_test.py"]
