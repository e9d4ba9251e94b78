"""Argument checks shared by the public API.

The compiled core runs without bounds checks, so everything it is given is checked here first: shapes,
dtypes, finiteness and target domains, and for sparse X the structure of the CSR arrays. Each failure is a
TypeError or ValueError that names the argument.
"""

import numbers
import os
import warnings
from collections.abc import Sequence

import numpy as np
import scipy.sparse

from fastbp._core._activations import ACTIVATIONS
from fastbp._core._losses import OUTPUTS as _OUTPUT_TABLE

# The names of the core's tables (its codes stay there), and the aliases the API also takes.
HIDDEN_ACTIVATIONS = tuple(ACTIVATIONS)
ACTIVATION_ALIASES = {"sigmoid": "logistic", "swish": "silu"}
OUTPUTS = tuple(_OUTPUT_TABLE)
# The losses each output can train with (the first is its natural one, which `loss=None` means).
LOSSES = {"identity": ("squared_error", "huber", "absolute_error"), "logistic": ("log_loss",),
          "softmax": ("log_loss",), "exp": ("poisson",)}
INITS = ("sklearn", "glorot_uniform", "glorot_normal", "he_uniform", "he_normal", "lecun_normal", "torch")
DTYPES = (np.dtype(np.float32), np.dtype(np.float64))
# BLAS takes 32-bit dimensions.
MAX_DIM = 2**31 - 1
# The largest array NumPy can address (a flat parameter buffer is one).
MAX_BUFFER_BYTES = np.iinfo(np.intp).max


def check_int(name, value, minimum=None):
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer, got {value!r} of type {type(value).__name__}")
    if minimum is not None and value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    return int(value)


def check_float(name, value, minimum=None, *, inclusive=True):
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {value!r} of type {type(value).__name__}")
    value = float(value)
    if not np.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value}")
    if minimum is not None and (value < minimum or (not inclusive and value == minimum)):
        raise ValueError(f"{name} must be {'>=' if inclusive else '>'} {minimum}, got {value}")
    return value


def check_choice(name, value, options, aliases=None):
    aliases = aliases or {}
    if not isinstance(value, str) or (value not in options and value not in aliases):
        known = ", ".join(repr(o) for o in (*options, *aliases))
        raise ValueError(f"{name} must be one of {known}; got {value!r}")
    return aliases.get(value, value)


def check_per_layer(name, value, n_hidden, check_one):
    """A setting given once for every hidden layer or as a sequence of one per hidden layer: (the value as
    given, checked: one value or a tuple, and the tuple of one per layer)."""
    if isinstance(value, (str, bytes)) or not hasattr(value, "__len__"):
        one = check_one(name, value)
        return one, (one,) * n_hidden
    if not isinstance(value, (Sequence, np.ndarray)):  # a set or a dict: no order, so no layer is first
        raise TypeError(f"{name} must be one value or a sequence (list or tuple) of one per hidden layer, in order; "
                        f"got a {type(value).__name__}")
    values = tuple(check_one(f"{name}[{i}]", item) for i, item in enumerate(value))
    if len(values) != n_hidden:
        raise ValueError(f"{name} must give one value per hidden layer ({n_hidden}), got {len(values)}")
    return values, values


def check_activation(name, value):
    return check_choice(name, value, HIDDEN_ACTIVATIONS, ACTIVATION_ALIASES)


def check_rate(name, value):
    """A dropout rate in [0, 1)."""
    rate = check_float(name, value, 0.0)
    if rate >= 1:
        raise ValueError(f"{name} must be in [0, 1), got {rate}")
    return rate


def check_loss(loss, output):
    """The loss name for the output (None: its natural loss), checked against what the output allows."""
    allowed = LOSSES[output]
    if loss is None:
        return allowed[0]
    if not isinstance(loss, str) or loss not in allowed:
        raise ValueError(f"loss must be one of {', '.join(map(repr, allowed))} or None for output={output!r}; "
                         f"got {loss!r}")
    return loss


def check_layer_sizes(layer_sizes):
    if isinstance(layer_sizes, (str, bytes)) or not hasattr(layer_sizes, "__len__"):
        raise TypeError(f"layer_sizes must be a sequence of integers, got {layer_sizes!r}")
    if len(layer_sizes) < 2:
        raise ValueError(f"layer_sizes needs at least an input and an output size, got {list(layer_sizes)}")
    sizes = tuple(check_int(f"layer_sizes[{i}]", s, minimum=1) for i, s in enumerate(layer_sizes))
    if max(sizes) > MAX_DIM:
        raise ValueError(f"layer_sizes entries must be < 2**31, got {max(sizes)}")
    return sizes


def check_n_params(layer_sizes, dtype, n_params, members=1):
    """n_params, the size of the model of `layer_sizes` (and `members`, an ensemble's), refused by name when no
    buffer of `dtype` can hold it."""
    what = f"layer_sizes {list(layer_sizes)}" + (f" with ensemble_size={members}" if members > 1 else "")
    dtype = np.dtype(dtype)
    if n_params * dtype.itemsize > MAX_BUFFER_BYTES:
        raise ValueError(f"{what} give {n_params:,} parameters: more than a buffer of "
                         f"{dtype.name} can hold (at most {MAX_BUFFER_BYTES // dtype.itemsize:,})")
    # Refused before the allocation: the system may grant it lazily, and drawing the weights would then end the
    # process for want of memory instead of raising.
    if n_params * dtype.itemsize > physical_memory():
        raise MemoryError(f"{what} give {n_params:,} parameters, "
                          f"{n_params * dtype.itemsize / 2**30:,.1f} GiB of {dtype.name}: more than this machine's "
                          f"memory ({physical_memory() / 2**30:,.1f} GiB)")
    return n_params


def physical_memory():
    """This machine's memory in bytes, where the OS says (else no limit)."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):
        return MAX_BUFFER_BYTES


def check_params(name, values, n_params, dtype, what):
    """`values` as a finite (n_params,) array of `dtype` (a flat parameter vector for `what`)."""
    arr = _as_numeric_array(name, values)
    if arr.shape != (n_params,):
        raise ValueError(f"{name} must have shape ({n_params},) for {what}; got an array of shape {arr.shape}")
    return _cast_finite(name, arr, dtype)


def check_dtype(dtype):
    try:
        resolved = np.dtype(dtype)
    except TypeError as exc:
        raise TypeError(f"dtype must be float32 or float64, got {dtype!r}") from exc
    if resolved not in DTYPES:
        raise ValueError(f"dtype must be float32 or float64, got {resolved}")
    return resolved


def check_codes(codes, name="X"):
    """The categorical columns of a checked X hold integer codes (any integer: one outside a column's categories
    is unknown)."""
    if codes.size and not (codes == np.round(codes)).all():
        column = int(np.flatnonzero((codes != np.round(codes)).any(axis=0))[0])
        raise ValueError(f"{name}'s categorical column {column} (of the last {codes.shape[1]}) holds a value that is "
                         "not an integer code")


def check_bool(name, value):
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be a bool, got {value!r}")
    return bool(value)


# n_threads is lowered to at most this many threads per usable core. Beyond the cores, threads only take
# turns on them, and each costs the OpenMP runtime a stack (8 MiB by default): a thousand on a small
# machine can make it fail to start them, which ends the process. A few per core still let a program
# run more threads than cores, as tests of thread invariance do on small machines.
THREADS_PER_CORE = 4


def usable_cores():
    """The cores this process may run on: its CPU affinity mask where the OS has one, else all of them."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def max_n_threads():
    return THREADS_PER_CORE * usable_cores()


def check_n_threads(n_threads):
    """None, or an integer >= 1, lowered to `max_n_threads()` (4 per usable core)."""
    if n_threads is None:
        return None
    return min(check_int("n_threads", n_threads, minimum=1), max_n_threads())


def check_seed(name, seed):
    """None, or an integer seed in [0, 2**63)."""
    if seed is None:
        return None
    seed = check_int(name, seed, minimum=0)
    if seed >= 2**63:
        raise ValueError(f"{name} must be < 2**63, got {seed}")
    return seed


def check_random_state(seed):
    """A numpy RandomState from None (the global one), an int seed, or a RandomState (used as is).

    This is scikit-learn's convention; it is repeated here so that `import fastbp` does not import sklearn.
    """
    if seed is None:
        return np.random.mtrand._rand
    if isinstance(seed, numbers.Integral) and not isinstance(seed, (bool, np.bool_)):
        return np.random.RandomState(int(seed))
    if isinstance(seed, np.random.RandomState):
        return seed
    raise TypeError(f"random_state must be None, an int or a numpy RandomState, got {seed!r}")


# NumPy before 1.24 makes an object array, with this warning, from ragged nested lists (1.24 raises).
_RAGGED_WARNING = getattr(np, "exceptions", np).VisibleDeprecationWarning


def _as_numeric_array(name, value):
    if scipy.sparse.issparse(value):
        raise TypeError(f"{name} is a sparse matrix; pass a dense array (for example {name}.toarray())")
    if isinstance(value, np.ndarray):
        arr = np.asarray(value)  # a subclass (np.matrix) as a plain array
    else:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("error", _RAGGED_WARNING)
                arr = np.asarray(value)
        except Exception as exc:  # noqa: BLE001 - ragged lists and the like
            raise TypeError(f"{name} could not be converted to a numeric array: {exc}") from exc
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"{name} must hold real numbers; got an array of dtype {arr.dtype}")
    return arr


# Rows are checked for NaN and infinity this many elements at a time: np.isfinite over a whole array makes
# a boolean mask as large as the array (a quarter of a float32 X).
FINITE_CHUNK = 1 << 16


def _all_finite(arr):
    rows = arr.reshape(arr.shape[0], -1)
    step = max(1, FINITE_CHUNK // max(1, rows.shape[1]))
    return all(np.isfinite(rows[i:i + step]).all() for i in range(0, rows.shape[0], step))


def _cast_finite(name, arr, dtype):
    with np.errstate(over="ignore"):  # an overflowing cast is reported below, by name
        out = np.ascontiguousarray(arr, dtype=dtype)
    if not _all_finite(out):
        detail = "" if not np.isfinite(arr).all() else f" after conversion to {dtype} (values too large)"
        raise ValueError(f"{name} contains NaN or infinity{detail}")
    return out


def _check_X_shape(name, shape, n_features):
    if len(shape) != 2:
        raise ValueError(f"{name} must be 2-D (n_samples, n_features); got an array of shape {shape}")
    if shape[0] == 0:
        raise ValueError(f"{name} is empty: it has 0 samples (shape {shape})")
    if shape[1] != n_features:
        raise ValueError(f"{name} has {shape[1]} features, but the network expects {n_features}")
    if shape[0] > MAX_DIM:
        raise ValueError(f"{name} has {shape[0]} samples; at most 2**31 - 1 are supported per call")


def check_X(X, n_features, dtype, name="X"):
    """X as a C-contiguous (n_samples, n_features) array of `dtype`, or for a scipy.sparse X a CSR matrix
    (see `check_sparse_X`); copies only when it must."""
    if scipy.sparse.issparse(X):
        return check_sparse_X(X, n_features, dtype, name)
    arr = _as_numeric_array(name, X)
    _check_X_shape(name, arr.shape, n_features)
    return _cast_finite(name, arr, dtype)


INDEX_DTYPES = (np.dtype(np.int32), np.dtype(np.int64))


def _check_range(name, what, values, size):
    if values.shape[0] and (values.min() < 0 or values.max() >= size):
        raise ValueError(f"{name} has {what} out of range: they must lie in [0, {size}), found {values.min()} to "
                         f"{values.max()}")


def check_sparse_structure(X, name="X"):
    """Raise a ValueError naming X unless the index arrays of the scipy.sparse X describe a matrix of its
    shape: for CSR and CSC an indptr that starts at 0, never decreases and ends within indices and data,
    and indices in range; for COO coordinates in range. scipy's own conversions (to CSR, for one) trust
    these arrays and read or write out of bounds when they are wrong. Other formats are left to scipy."""
    if len(X.shape) != 2:
        raise ValueError(f"{name} must be 2-D (n_samples, n_features); got a sparse array of shape {X.shape}")
    if X.format in ("csr", "csc"):
        data = np.asarray(X.data)
        n_major, n_minor = X.shape if X.format == "csr" else X.shape[::-1]
        indptr, indices = np.ravel(X.indptr), np.ravel(X.indices)
        if (indptr.shape[0] != n_major + 1 or indptr[0] != 0 or (indptr[1:] < indptr[:-1]).any()
                or indptr[-1] > min(indices.shape[0], data.shape[0])):
            kind = "n_samples" if X.format == "csr" else "n_features"
            raise ValueError(f"{name} has an invalid indptr: it must have {kind} + 1 = {n_major + 1} entries, start "
                             "at 0, never decrease and end within indices and data")
        _check_range(name, "indices (of columns)" if X.format == "csr" else "indices (of rows)",
                     indices[:indptr[-1]], n_minor)
    elif X.format == "coo":
        rows, columns, data = np.ravel(X.row), np.ravel(X.col), np.asarray(X.data)
        if not rows.shape[0] == columns.shape[0] == data.shape[0]:
            raise ValueError(f"{name} has row, col and data arrays of different lengths")
        _check_range(name, "row coordinates", rows, X.shape[0])
        _check_range(name, "column coordinates", columns, X.shape[1])


def _plain_arrays(X):
    """Whether X's data, indices and indptr are contiguous 1-D NumPy arrays, indices and indptr of one
    dtype (int32 or int64), as the core reads them."""
    arrays = (X.data, X.indices, X.indptr)
    return (all(isinstance(a, np.ndarray) and a.ndim == 1 and a.flags.c_contiguous for a in arrays)
            and X.indices.dtype == X.indptr.dtype and X.indices.dtype in INDEX_DTYPES)


def check_sparse_X(X, n_features, dtype, name="X"):
    """A scipy.sparse X (matrix or array) as CSR of the same kind, data of `dtype`, checked for everything
    the core's sparse kernels assume, since they run without bounds checks: the index arrays (see
    `check_sparse_structure`) and finite data.

    A CSR X with data of `dtype` and int32 or int64 indices is returned as it is (no copy). Other formats
    (CSC, COO, ...) are converted to CSR, data of another dtype cast, and unusual index arrays made int64:
    each of these copies the matrix once. Unsorted indices, duplicates (they add up), explicit zeros and
    empty rows are valid and mean what they mean in the dense matrix.
    """
    check_sparse_structure(X, name)
    _check_X_shape(name, X.shape, n_features)
    if X.dtype.kind not in "biuf":
        raise TypeError(f"{name} must hold real numbers; got a sparse matrix of dtype {X.dtype}")
    if X.format != "csr":
        X = X.tocsr()
    if not _plain_arrays(X):
        X = X.copy()
        X.indices, X.indptr = (np.ascontiguousarray(np.ravel(a), dtype=np.int64) for a in (X.indices, X.indptr))
        X.data = np.ascontiguousarray(np.ravel(X.data))
    nnz = int(X.indptr[-1])
    given = X.data[:nnz]
    if X.data.dtype != dtype:
        with np.errstate(over="ignore"):  # an overflowing cast is reported below, by name
            X = X.astype(dtype)
    if nnz and not _all_finite(X.data[:nnz]):
        detail = "" if not _all_finite(given) else f" after conversion to {dtype} (values too large)"
        raise ValueError(f"{name} contains NaN or infinity{detail}")
    return X


def check_Y(Y, n_samples, n_outputs, output, dtype, name="Y"):
    """Y as a C-contiguous (n_samples, n_outputs) array of `dtype`, checked against the output's domain."""
    arr = _as_numeric_array(name, Y)
    if arr.ndim == 1 and n_outputs == 1:
        arr = arr.reshape(-1, 1)
    if arr.ndim != 2:
        raise ValueError(f"{name} must be 2-D (n_samples, n_outputs); got an array of shape {arr.shape}")
    if arr.shape != (n_samples, n_outputs):
        raise ValueError(f"{name} has shape {arr.shape}, expected ({n_samples}, {n_outputs}) to match X and the "
                         "network")
    arr = _cast_finite(name, arr, dtype)
    if output == "logistic" and ((arr < 0).any() or (arr > 1).any()):
        raise ValueError(f"{name} must lie in [0, 1] for output='logistic' (binary cross-entropy)")
    if output == "exp" and (arr < 0).any():
        raise ValueError(f"{name} must be >= 0 for output='exp' (Poisson loss)")
    if output == "softmax":
        tol = np.sqrt(np.finfo(dtype).eps) * n_outputs
        if (arr < 0).any() or (np.abs(arr.sum(axis=1, dtype=np.float64) - 1) > tol).any():
            raise ValueError(
                f"{name} rows must be one-hot or probabilities (non-negative, summing to 1) for output='softmax'"
            )
    return arr


def check_sample_weight(sample_weight, n_samples, dtype, name="sample_weight"):
    """(weights or None, their sum); None means unit weights with sum n_samples."""
    if sample_weight is None:
        return None, float(n_samples)
    arr = _as_numeric_array(name, sample_weight)
    if arr.ndim != 1 or arr.shape[0] != n_samples:
        raise ValueError(f"{name} must have shape ({n_samples},) to match X; got {arr.shape}")
    arr = _cast_finite(name, arr, dtype)
    if (arr < 0).any():
        raise ValueError(f"{name} must be non-negative")
    with np.errstate(over="ignore"):  # an overflowing sum is reported below, by name
        total = float(arr.sum(dtype=np.float64))
    if total <= 0:
        raise ValueError(f"{name} must have a positive sum")
    # The losses are divided by sums of weights (a minibatch's, the whole data's) in the model's dtype.
    largest = float(np.finfo(dtype).max)
    if not total <= largest:
        raise ValueError(f"{name} sums to {total:g}, beyond the largest {np.dtype(dtype).name} ({largest:g}); "
                         "scale the weights down (only their ratios matter)")
    return arr, total
