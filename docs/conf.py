"""Sphinx configuration of the labelnoise-sim documentation.

Build (warnings are errors, a cross-reference that reaches no target among them with -n; the gallery's
examples run as part of the build)::

    python -m sphinx -n -W --keep-going -b html docs docs/_build/html
"""

from __future__ import annotations

import importlib
import json
import pkgutil
import socket
import sys
from pathlib import Path
from urllib.parse import urlsplit

import labelnoise_sim

sys.path.insert(0, str(Path(__file__).parent / "_ext"))
import paper_tables  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]

project = "labelnoise-sim"
author = "the labelnoise-sim authors"
copyright = "2026, the labelnoise-sim authors"
release = version = labelnoise_sim.__version__

extensions = [
    "myst_parser",
    "numpydoc",
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.intersphinx",
    "sphinx.ext.mathjax",
    "sphinx-mathjax-offline",  # MathJax served from the site itself: no CDN to reach
    "sphinx_gallery.gen_gallery",
]

source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
# The pages quote parameter values in plain text ("sum", "relu"): keep their quotes straight.
smartquotes = False
# docs/papers/KEY/, docs/performance/, docs/phase/ and docs/tables/ hold what the commands write; the pages
# include them, they are not pages.
exclude_patterns = ["_build", "claims/*", "papers/*/*", "performance/*", "phase/*", "tables/*",
                    "auto_examples/*.ipynb", "auto_examples/*.py",
                    "auto_examples/*.zip", "auto_examples/*.md5", "auto_examples/*.codeobj.json"]

# Markdown pages: $…$ and $$…$$ maths and LaTeX environments (amsmath: align, cases…), ::: fences, anchors
# for the ## headings that the pages link to, and {{ name }} substitutions: the paper gallery's setup tables
# and index, made from the entries (_ext/paper_tables.py), and the numbers the performance page quotes, as
# benchmarks/make_performance_docs.py wrote them.
myst_enable_extensions = ["dollarmath", "amsmath", "colon_fence", "attrs_inline", "substitution"]
myst_heading_anchors = 3
myst_substitutions = {**paper_tables.substitutions(),
                      **json.loads((Path(__file__).parent / "performance" / "numbers.json").read_text())}

# The API reference: one page per public name, from its numpydoc docstring. The top level's names are on
# reference/index.rst; every other public module (a submodule without a leading underscore, found here rather
# than listed) gets a page listing its own __all__ but the names the top level re-exports, written here
# (autosummary's module template would mistake the module labelnoise_sim.sweep for the function
# labelnoise_sim.sweep that shadows it).
MODULES = tuple(info.name for info in pkgutil.iter_modules(labelnoise_sim.__path__) if not info.name.startswith("_"))


def _module_pages(folder: Path) -> None:
    folder.mkdir(exist_ok=True)
    for name in MODULES:
        module = importlib.import_module(f"labelnoise_sim.{name}")
        title = f"labelnoise_sim.{name}"
        own = [item for item in module.__all__ if item not in labelnoise_sim.__all__]
        page = [title, "=" * len(title), "", f".. automodule:: {title}", "", f".. currentmodule:: {title}", ""]
        # The function sweep owns the name labelnoise_sim.sweep. (Every other submodule is an attribute of the
        # package too, once imported: it is itself, and is indexed, so that :mod: links reach its page.)
        if getattr(labelnoise_sim, name) is not module:
            page[3:4] = [page[3], "   :no-index:"]
        if own:
            page += [".. autosummary::", "   :toctree: ../generated", ""] + [f"   {item}" for item in own]
        text = "\n".join(page) + "\n"
        path = folder / f"{name}.rst"
        if not path.exists() or path.read_text() != text:  # an unchanged page is not rebuilt
            path.write_text(text)


_module_pages(Path(__file__).parent / "reference" / "modules")
autosummary_generate = True
autodoc_typehints = "none"
# A class's page lists its methods and properties, each on a page of its own with its whole docstring
# (_templates/autosummary/class.rst); numpydoc's own member lists would repeat them.
templates_path = ["_templates"]
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False


def _skip_member(app, what, name, obj, skip, options):
    """Leave out of a class's member lists what has no docstring of its own to show.

    Fields of dataclasses and named tuples ("attribute") are described in their class's docstring; methods
    that a class inherits from Python (``tuple.count``, ``BaseException.add_note``) and private or special
    members are not this library's. Anything else is left to the default.
    """
    if name.startswith("_") or what == "attribute":
        return True
    if what == "method" and not getattr(obj, "__module__", "").startswith("labelnoise_sim"):
        return True
    return None


def setup(app):
    app.connect("autodoc-skip-member", _skip_member)

# Links to the libraries we build on. Intersphinx fetches their inventories (objects.inv) at build time and
# warns, as an error under -W, when none can be reached. A machine without the internet (this project's CI
# reaches package registries only) still builds: a library whose site does not answer within a few seconds
# is left out, and references to its names stay plain text.
INTERSPHINX = {
    "python": "https://docs.python.org/3/",
    "numpy": "https://numpy.org/doc/stable/",
    "scipy": "https://docs.scipy.org/doc/scipy/",
    "matplotlib": "https://matplotlib.org/stable/",
    "dask": "https://docs.dask.org/en/stable/",
}


def _reachable(url: str, timeout: float = 3.0) -> bool:
    try:
        socket.create_connection((urlsplit(url).hostname, 443), timeout=timeout).close()
        return True
    except OSError:
        return False


intersphinx_mapping = {name: (url, None) for name, url in INTERSPHINX.items() if _reachable(url)}
intersphinx_timeout = 5


# sphinx-gallery runs every script of examples/ and fails the build on any error; an example over its CPU-time
# budget gets a warning (_ext/gallery_budget.py; named by a string, so that Sphinx can cache the configuration).
# The pages show no running times: wall-clock time on a shared machine measures its load, not the example.

sphinx_gallery_conf = {
    "examples_dirs": str(ROOT / "examples"),
    "gallery_dirs": "auto_examples",
    "filename_pattern": r".*\.py$",  # run every example, not only plot_*.py
    "abort_on_example_error": True,
    "reset_modules": ("matplotlib", "gallery_budget.time_budget"),
    "reset_modules_order": "both",
    "download_all_examples": False,
    "remove_config_comments": True,
    "within_subsection_order": "FileNameSortKey",
    "min_reported_time": float("inf"),
    "write_computation_times": False,
}

html_theme = "pydata_sphinx_theme"
html_title = "labelnoise-sim"
html_theme_options = {
    "github_url": None,
    "navigation_with_keys": False,
    "show_toc_level": 2,
}
