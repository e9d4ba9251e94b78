"""Peak memory of fitting fastbp.MLPClassifier on a sparse CSR matrix, and where the peak comes from.

    python bench/sparse_memory.py                  # 50,000 x 20,000 float32 at density 0.002 (2M nonzeros)
    python bench/sparse_memory.py --rows 20000 --features 5000 --density 0.01 --dtype float64

Fits ``MLPClassifier(hidden_layer_sizes=(32,), max_iter=1)`` (adam, batches of 200) on a random CSR matrix
made before measuring, and reports, with tracemalloc (which traces every NumPy buffer), the peak of memory
allocated on top of X during each phase of the fit: scikit-learn's input validation alone
(``check_array``, as the estimator calls it), fastbp's own check of the CSR arrays alone, and the whole fit.
The target is a peak of at most 2 x the CSR matrix's bytes plus the model and its workspaces (parameters,
gradient, Adam's two moments, and the copies of all three an epoch rolls back to). tracemalloc sees every
NumPy and SciPy array; resident memory would not tell, as the allocator reuses what earlier steps freed.
"""

import argparse
import tracemalloc
import warnings

import numpy as np
import scipy.sparse


def random_csr(n_rows, n_features, density, dtype, seed=0):
    """A CSR matrix with n_rows * n_features * density entries spread evenly over the rows, at random columns."""
    rng = np.random.default_rng(seed)
    nnz = int(n_rows * n_features * density)
    indptr = (np.arange(n_rows + 1, dtype=np.int64) * nnz // n_rows).astype(np.int32)
    indices = rng.integers(0, n_features, nnz, dtype=np.int32)
    data = rng.random(nnz, dtype=np.float64).astype(dtype)
    return scipy.sparse.csr_matrix((data, indices, indptr), shape=(n_rows, n_features))


def traced_peak(function):
    """(result, peak bytes allocated while function ran, above what was allocated when it started)."""
    tracemalloc.start()
    try:
        result = function()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return result, peak


def mib(n_bytes):
    return f"{n_bytes / 2**20:8.2f} MiB"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=50_000)
    parser.add_argument("--features", type=int, default=20_000)
    parser.add_argument("--density", type=float, default=0.002)
    parser.add_argument("--dtype", default="float32", choices=["float32", "float64"])
    parser.add_argument("--hidden", type=int, default=32)
    args = parser.parse_args()

    from sklearn.utils import check_array

    import fastbp
    from fastbp import _validation

    X = random_csr(args.rows, args.features, args.density, args.dtype)
    half = np.asarray(X[:, : args.features // 2].sum(axis=1)).ravel()
    y = (half > np.median(half)).astype(np.int64)
    csr = X.data.nbytes + X.indices.nbytes + X.indptr.nbytes
    dense = args.rows * args.features * np.dtype(args.dtype).itemsize
    warnings.simplefilter("ignore")  # ConvergenceWarning after one epoch
    params = dict(hidden_layer_sizes=(args.hidden,), max_iter=1, random_state=0)
    fastbp.MLPClassifier(**params).fit(X[:500], y[:500])  # imports and first-call costs, before measuring

    _, sklearn_check = traced_peak(lambda: check_array(X, accept_sparse="csr", dtype=(np.float64, np.float32)))
    _, fastbp_check = traced_peak(lambda: _validation.check_X(X, args.features, X.dtype))
    clf, fit = traced_peak(lambda: fastbp.MLPClassifier(**params).fit(X, y))
    model = sum(a.nbytes for a in clf.coefs_ + clf.intercepts_)
    # The gradient, Adam's m and v, and the epoch's snapshot of the parameters, m and v.
    workspaces = 6 * model
    # What the rest of the peak is: arrays of one entry per row (labels, targets, the shuffle order).
    per_row = args.rows * (np.dtype(np.intp).itemsize * 3 + np.dtype(args.dtype).itemsize + 8)
    print(f"X: {args.rows} x {args.features} {args.dtype} CSR at density {args.density} "
          f"({X.nnz} nonzeros, {X.indices.dtype} indices); hidden ({args.hidden},), adam, 1 epoch")
    print(f"  CSR matrix (data + indices + indptr)        {mib(csr)}   (dense: {dense / 2**30:.2f} GiB)")
    print(f"  model (parameters)                          {mib(model)}")
    print(f"  model + workspaces (7 x parameters)         {mib(model + workspaces)}")
    print("peak allocated on top of X (tracemalloc):")
    print(f"  scikit-learn check_array alone              {mib(sklearn_check)}")
    print(f"  fastbp check_X alone                        {mib(fastbp_check)}")
    print(f"  the whole fit                               {mib(fit)}   = {fit / csr:.2f} x CSR")
    print(f"  of which model + workspaces {mib(model + workspaces)}, arrays per row (labels, targets, order) "
          f"~{mib(per_row)}")
    print(f"  X + the fit's peak                          {mib(csr + fit)}   target <= 2 x CSR + model + "
          f"workspaces = {mib(2 * csr + model + workspaces)}")


if __name__ == "__main__":
    main()
