"""python -m fastbp.patch script.py [args...] | -m module [args...]: run a program with scikit-learn patched.

The program runs as `python script.py args...` (or `python -m module args...`) would run it, with
`fastbp.patch_sklearn()` in effect from the start: its scikit-learn MLPs are fastbp's.
"""

import os
import runpy
import sys

from fastbp.patch import patch_sklearn

USAGE = """usage: python -m fastbp.patch script.py [args...]
       python -m fastbp.patch -m module [args...]

Run a Python program with fastbp.patch_sklearn() in effect: sklearn.neural_network.MLPClassifier and
MLPRegressor are fastbp's drop-ins."""


def main(argv):
    if not argv or argv[0] in ("-h", "--help"):
        print(USAGE, file=sys.stdout if argv else sys.stderr)
        return 0 if argv else 2
    if argv[0] == "-m":
        if len(argv) < 2:
            print(USAGE, file=sys.stderr)
            return 2
        sys.argv = argv[1:]
        patch_sklearn()
        runpy.run_module(argv[1], run_name="__main__", alter_sys=True)
        return 0
    script = argv[0]
    if not os.path.isfile(script):
        print(f"python -m fastbp.patch: can't open file {script!r}: no such file", file=sys.stderr)
        return 2
    sys.argv = argv
    sys.path[0] = os.path.dirname(os.path.abspath(script))  # as `python script.py` sets it
    patch_sklearn()
    runpy.run_path(script, run_name="__main__")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
