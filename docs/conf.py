"""Sphinx configuration: the user guide (MyST Markdown), the API reference from the docstrings,
the command-line and configuration references generated from the code, and the examples gallery
(sphinx-gallery runs every example at small m on each build)."""
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).parent))

from reference_pages import write_config_reference  # noqa: E402

import meanfield  # noqa: E402

project = "meanfield"
author = "the meanfield developers"
release = version = meanfield.__version__

extensions = [
    "myst_parser",
    "sphinx.ext.autodoc",
    "sphinx.ext.mathjax",
    "numpydoc",
    "sphinxarg.ext",
    "sphinx_gallery.gen_gallery",
]
source_suffix = {".md": "markdown", ".rst": "restructuredtext"}
exclude_patterns = ["_build", "reference/config-keys.md", "examples/README.txt", "auto_examples/*.ipynb", "auto_examples/*.py", "auto_examples/*.zip",
                    "auto_examples/*.md5", "auto_examples/*.codeobj.json", "sg_execution_times.rst"]
myst_enable_extensions = ["dollarmath"]
myst_heading_anchors = 3

autodoc_member_order = "bysource"
autodoc_typehints = "none"
numpydoc_show_class_members = False
numpydoc_validation_checks = set()
numpydoc_xref_param_type = False

sphinx_gallery_conf = {
    "examples_dirs": "examples",
    "gallery_dirs": "auto_examples",
    "filename_pattern": r"/plot_",
    "download_all_examples": False,
    "remove_config_comments": True,
    "matplotlib_animations": False,
    "within_subsection_order": "FileNameSortKey",
    "show_signature": False,
}

html_theme = "pydata_sphinx_theme"
html_title = f"meanfield {release}"
html_static_path = ["_static"]
html_theme_options = {"navigation_with_keys": False}
suppress_warnings = ["config.cache"]


def _literal_bars(app, what, name, obj, options, lines):
    """Docstrings write norms as |r| (plain text for readers of the source); in reST a |...| pair
    is a substitution, so escape the bars outside inline literals."""
    for i, line in enumerate(lines):
        parts = line.split("``")
        lines[i] = "``".join(part if k % 2 else part.replace("|", "\\|") for k, part in enumerate(parts))


def setup(app):
    write_config_reference(Path(__file__).parent / "reference" / "config-keys.md")
    app.connect("autodoc-process-docstring", _literal_bars)
