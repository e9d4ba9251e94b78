"""Sphinx configuration of fastbp's documentation.

Build (from the repository root; the package must be installed, since the gallery runs it):

    pip install ".[docs]" && python -m sphinx -W --keep-going -b html docs docs/_build/html

The build needs no network: links to NumPy, SciPy, scikit-learn and Python come from the inventories in
docs/_intersphinx (see there), formulas become MathML while building (docs/_ext/mathml.py), and the gallery
uses data generated or bundled with scikit-learn.
"""

import doctest
import os
import sys
import warnings

import fastbp

sys.path.insert(0, os.path.abspath("_ext"))

project = "fastbp"
author = "The fastbp developers"
copyright = "the fastbp developers"
release = version = fastbp.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.doctest",
    "sphinx.ext.intersphinx",
    "numpydoc",
    "sphinx_gallery.gen_gallery",
    "mathml",
]

exclude_patterns = ["_build", "_intersphinx", "auto_examples/*.ipynb", "auto_examples/*.py",
                    "auto_examples/*.zip", "auto_examples/*.json", "auto_examples/*.md5"]
templates_path = ["_templates"]
html_math_renderer = "mathml"
# Every cross-reference must resolve, so that a name missing from the inventories in docs/_intersphinx is a
# build error rather than a silently unlinked word.
nitpicky = True
# `name` links to a Python object when it names one, else is set in italics (docstrings name arguments so).
default_role = "autolink"
pygments_style = "sphinx"

# --- HTML -------------------------------------------------------------------------------------------------

html_theme = "pydata_sphinx_theme"
html_title = f"fastbp {release}"
html_static_path = ["_static"]
html_css_files = ["fastbp.css"]
html_theme_options = {
    "navbar_align": "left",
    "header_links_before_dropdown": 6,
    "show_toc_level": 2,
    "secondary_sidebar_items": {"**": ["page-toc", "sourcelink"], "index": []},
    "footer_start": ["copyright"],
    "footer_end": ["sphinx-version", "theme-version"],
}
html_sidebars = {"index": [], "getting_started": [], "architecture": []}
html_show_sourcelink = True
html_copy_source = True

# --- API reference: autodoc, autosummary, numpydoc ---------------------------------------------------------

autosummary_generate = True
autodoc_member_order = "groupwise"
autodoc_typehints = "none"  # the numpydoc sections give the types
# A class page documents its methods in full (docs/_templates/autosummary/class.rst); the page's table of
# contents lists them, so numpydoc's summary table of members is left out.
numpydoc_show_class_members = False
numpydoc_attributes_as_param_list = True
numpydoc_xref_param_type = True
numpydoc_xref_ignore = "all"  # link the names below; leave words like "of", "shape" or "default" alone
numpydoc_xref_aliases = {
    # numpydoc's defaults point some words at labels and glossary terms; these are the same targets as
    # objects, which docs/_intersphinx lists.
    "bool": "bool",
    "boolean": "bool",
    "sequence": "collections.abc.Sequence",
    "iterable": "collections.abc.Iterable",
    "array-like": "numpy.typing.ArrayLike",
    "array_like": "numpy.typing.ArrayLike",
    "path-like": "os.PathLike",
    "RandomState": "numpy.random.RandomState",
    "numpy.random.RandomState": "numpy.random.RandomState",
    "dtype": "numpy.dtype",
    # fastbp's own names, as the docstrings write them
    "MLP": "fastbp.MLP",
    "fastbp.MLP": "fastbp.MLP",
    "Trainer": "fastbp.Trainer",
    "History": "fastbp.History",
    "SGD": "fastbp.SGD",
    "Adam": "fastbp.Adam",
    "EarlyStopping": "fastbp.EarlyStopping",
    "Callback": "fastbp.Callback",
}

# --- intersphinx, without the network -----------------------------------------------------------------------
# Each project's inventory is a file in docs/_intersphinx, so the build never downloads anything (CI has no
# guaranteed network, and a download that fails is a warning, which -W turns into a failed build). Links
# still point at the projects' online documentation. The files list only the names these pages refer to,
# in Sphinx's plain-text inventory format (version 1: "name type path"); nitpicky mode above makes a name
# that is missing there a build error, so add it to the file when a page starts using it.
intersphinx_mapping = {
    "python": ("https://docs.python.org/3/", "_intersphinx/python.inv"),
    "numpy": ("https://numpy.org/doc/stable/", "_intersphinx/numpy.inv"),
    "scipy": ("https://docs.scipy.org/doc/scipy/", "_intersphinx/scipy.inv"),
    "sklearn": ("https://scikit-learn.org/stable/", "_intersphinx/sklearn.inv"),
}

# --- doctest: the user guide's examples ----------------------------------------------------------------------
# `python -m sphinx -b doctest docs docs/_build/doctest` runs the `.. doctest::` blocks of the pages; the
# docstrings' examples run in the test suite (tests/test_docstrings.py), so plain >>> blocks are left out here.
doctest_test_doctest_blocks = ""
doctest_global_setup = ""  # each page imports what it uses, as a reader copying its code would
doctest_default_flags = (doctest.ELLIPSIS | doctest.IGNORE_EXCEPTION_DETAIL | doctest.DONT_ACCEPT_TRUE_FOR_1
                         | doctest.NORMALIZE_WHITESPACE)  # Sphinx's defaults, and long outputs may wrap

# --- gallery ---------------------------------------------------------------------------------------------
sphinx_gallery_conf = {
    "examples_dirs": "../examples",
    "gallery_dirs": "auto_examples",
    "filename_pattern": r"/plot_",
    "within_subsection_order": "gallery_order.ExampleOrder",
    "doc_module": ("fastbp",),
    "backreferences_dir": "generated/backreferences",
    "download_all_examples": False,
    "remove_config_comments": True,
    "min_reported_time": 1,
    # The run times are in the build log and on each example's page; the summary page sphinx-gallery would
    # write loads scripts from CDNs, and the pages must work offline.
    "write_computation_times": False,
    "show_signature": False,
    "capture_repr": (),  # show what the examples print, not the value of each block's last expression
    # An example that raises fails the build.
    "only_warn_on_example_error": False,
    "abort_on_example_error": False,
}

# Agg draws the gallery's figures without a display.
os.environ.setdefault("MPLBACKEND", "Agg")
warnings.filterwarnings("ignore", message="Matplotlib is currently using agg", category=UserWarning)
