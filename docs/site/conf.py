"""Sphinx configuration of the course website (`make site`; labutils/tools/site.py writes the sources).

The pages are the executed notebooks of `make run` (build/notebooks/), rendered by myst-nb without
executing them again, in the Sphinx Book Theme. Everything the pages load is served by the site itself:
MathJax is copied into _static/mathjax by the builder, ipywidgets' JavaScript (a CDN) is not loaded.
"""

project = "genlabs"
author = "genlabs"
copyright = "genlabs contributors (MIT)"
extensions = ["myst_nb"]
exclude_patterns = ["_build", "**.ipynb_checkpoints", "labs/downloads"]  # downloads, not pages
master_doc = "index"

# the outputs of `make run` are the content: never execute here
nb_execution_mode = "off"
nb_output_stderr = "show"  # warnings such as the offline-data fallback belong on the page
nb_merge_streams = True  # one block per cell: the `check NAME: ... passed` lines stay together
nb_ipywidgets_js = {}  # require.js and the widget manager would come from a CDN; sliders need a kernel anyway
myst_enable_extensions = ["dollarmath", "amsmath", "colon_fence"]
myst_dmath_double_inline = True
suppress_warnings = ["mystnb.unknown_mime_type", "myst.header"]

# MathJax 3 from the site itself (the builder copies it into _static/mathjax), so maths renders offline
mathjax_path = "mathjax/tex-mml-chtml.js"

html_theme = "sphinx_book_theme"
html_title = "genlabs: generative modelling labs"
html_static_path = ["_static"]
html_css_files = ["genlabs.css"]
html_copy_source = True
html_show_sourcelink = False
html_theme_options = {
    "use_download_button": True,  # the .ipynb of each page, next to the explicit download links
    "use_fullscreen_button": False,
    "use_repository_button": False,
    "home_page_in_toc": True,
    "show_toc_level": 2,
}
html_last_updated_fmt = None
# an explicit light/dark default: without it the theme logs "Got invalid theme mode" to the console
html_context = {"default_mode": "light"}
