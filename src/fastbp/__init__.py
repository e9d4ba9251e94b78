"""fastbp: fast backpropagation for multilayer perceptrons on the CPU.

Public names live here and nowhere else. Importing fastbp loads the compiled core and fails loudly if it is
missing; scikit-learn is imported only by the parts that need it.
"""

# First: `fastbp._core` turns a missing compiled core into an ImportError that says what to do.
import fastbp._core  # isort: skip  # noqa: F401
from fastbp.network import MLP  # isort: skip
from fastbp.loading import load  # isort: skip

from fastbp import embeddings, schedules
from fastbp._core._openmp_helpers import openmp_enabled as _openmp_enabled
from fastbp._version import __version__
from fastbp.callbacks import Callback, Checkpoint, EarlyStopping, ProgressBar
from fastbp.config import show_config
from fastbp.epochs import DivergenceError
from fastbp.export import to_onnx
from fastbp.gradcheck import gradcheck
from fastbp.history import History
from fastbp.optim import SGD, Adagrad, Adam, AdamW, RMSprop
from fastbp.patch import patch_sklearn, sklearn_is_patched, unpatch_sklearn
from fastbp.trainer import Trainer

if not _openmp_enabled():
    import warnings

    warnings.warn("fastbp was built without OpenMP (FASTBP_DISABLE_OPENMP, or a compiler without it): the core "
                  "will use one thread. fastbp.show_config() shows the build.", RuntimeWarning, stacklevel=2)

__all__ = [
    "MLPClassifier", "MLPRegressor", "TabularClassifier", "TabularRegressor", "MLP", "Trainer", "SGD", "Adam",
    "AdamW", "RMSprop", "Adagrad", "schedules",
    "embeddings",
    "to_onnx", "History", "Callback", "EarlyStopping",
    "Checkpoint", "ProgressBar", "DivergenceError", "gradcheck", "load", "show_config", "patch_sklearn",
    "unpatch_sklearn", "sklearn_is_patched", "__version__",
]


def __getattr__(name):
    # The estimators import scikit-learn; load them on first use so that `import fastbp` stays light.
    if name in ("MLPClassifier", "MLPRegressor"):
        from fastbp import estimators

        return getattr(estimators, name)
    if name in ("TabularClassifier", "TabularRegressor"):
        from fastbp import tabular

        return getattr(tabular, name)
    raise AttributeError(f"module 'fastbp' has no attribute {name!r}")
