"""The examples in the docstrings run and print what they say: the API reference shows them.

Read from the installed package, like the rest of the suite; every public name has at least one example.
"""

import doctest
import importlib
import pkgutil

import pytest

import fastbp

MODULES = sorted(name for _, name, _ in pkgutil.walk_packages(fastbp.__path__, "fastbp.")
                 if "._core" not in name and not name.endswith("__main__"))
FLAGS = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE
# Modules whose examples need an optional extra; the CI stage that installs it runs them.
NEEDS = {"fastbp.export": ("onnx", "onnxruntime")}


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples_run_and_print_what_they_say(name):
    for extra in NEEDS.get(name, ()):
        pytest.importorskip(extra, reason=f"the examples of {name} need {extra}: pip install 'fastbp[onnx]'")
    module = importlib.import_module(name)
    runner = doctest.DocTestRunner(optionflags=FLAGS)
    for test in doctest.DocTestFinder().find(module, name):
        runner.run(test)
    failed, attempted = runner.summarize(verbose=False)
    assert failed == 0, f"{failed} of {attempted} docstring examples of {name} failed (output above)"


@pytest.mark.parametrize("name", sorted(set(fastbp.__all__) - {"__version__"}))
def test_every_public_name_has_an_example(name):
    assert ">>>" in (getattr(fastbp, name).__doc__ or ""), f"fastbp.{name} has no example in its docstring"
