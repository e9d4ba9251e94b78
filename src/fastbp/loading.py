"""`load`: the model of a file that `MLP.save` (or `Trainer.save`, an estimator's ``save``) wrote."""

from fastbp import _validation as v
from fastbp import backends, persistence
from fastbp._typing import PathLike
from fastbp.network import MLP


def load(path: PathLike, backend: str = "cython", n_threads: int | None = None) -> MLP:
    """The `MLP` saved at `path` by `MLP.save` (or `Trainer.save`, an estimator's ``save``), with the given
    backend and threads (and the saved ``thread_invariant``). Every field of the file is checked first (see
    `fastbp.persistence`).

    Examples
    --------
    >>> import os, tempfile
    >>> import numpy as np
    >>> import fastbp
    >>> path = os.path.join(tempfile.mkdtemp(), "net.npz")
    >>> net = fastbp.MLP([4, 3, 2], output="softmax", random_state=0)
    >>> net.save(path)
    >>> fastbp.load(path, backend="numpy")
    MLP([4, 3, 2], activation='logistic', output='softmax', dtype='float64', backend='numpy')
    >>> bool(np.array_equal(fastbp.load(path).params, net.params))
    True
    """
    # The arguments first: a bad one is the caller's, not the file's.
    backend = v.check_choice("backend", backend, backends.BACKENDS)
    n_threads = v.check_n_threads(n_threads)
    return build(persistence.read(path), path, backend, n_threads)


def build(saved, path, backend="cython", n_threads=None):
    """The `MLP` described by `persistence.read`'s result (a `persistence.Saved`) for the file `path`."""
    layer_sizes, activation, output, dtype = saved.architecture
    try:
        net = MLP(layer_sizes, activation, output, dtype=dtype, random_state=0, backend=backend, n_threads=n_threads,
                  thread_invariant=saved.thread_invariant, **saved.options)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"{path}: invalid fastbp model file: {exc}") from exc
    net.params[...] = saved.params
    return net
