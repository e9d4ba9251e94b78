"""fastbp: fast backpropagation for multilayer perceptrons on the CPU.

Public names live here and nowhere else. Importing fastbp loads the compiled core and fails loudly if it is
missing; scikit-learn is imported only by the parts that need it.
"""

from fastbp._version import __version__
from fastbp.config import show_config
from fastbp.gradcheck import gradcheck
from fastbp.network import MLP
from fastbp.optim import SGD, Adam

__all__ = ["MLP", "SGD", "Adam", "gradcheck", "show_config", "__version__"]
