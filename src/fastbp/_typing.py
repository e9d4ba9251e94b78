"""Type aliases of fastbp's annotated public API (the package ships ``py.typed``; CI checks it with mypy)."""

import os

import numpy as np
import numpy.typing as npt
import scipy.sparse

# Data a model takes: anything NumPy makes an array of, or a scipy.sparse matrix or array.
Data = npt.ArrayLike | scipy.sparse.spmatrix | scipy.sparse.sparray
FloatArray = npt.NDArray[np.floating]
PathLike = str | os.PathLike[str]
Seed = int | np.random.RandomState | None
