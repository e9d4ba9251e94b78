"""The benchmark workloads of DESIGN.md section 6: binary targets, logistic hidden and output layers."""

import numpy as np

# name: (layer sizes, number of rows, batch size)
WORKLOADS = {
    "tiny": ((30, 16, 1), 569, 32),
    "small": ((64, 64, 64, 1), 8192, 64),
    "medium": ((784, 256, 128, 1), 16384, 128),
    "large": ((1024, 1024, 1024, 1), 8192, 256),
}


def make_data(name, dtype, n_rows=None, seed=0):
    """X (rows, n_features) and binary Y (rows, 1) of `dtype`, C-contiguous.

    "tiny" is scikit-learn's breast-cancer data, standardised (its 569 rows; `n_rows` does not apply);
    the others are Gaussian features labelled by the sign of the sum of their first half.
    """
    sizes, default_rows, _ = WORKLOADS[name]
    if name == "tiny":
        from sklearn.datasets import load_breast_cancer

        X, y = load_breast_cancer(return_X_y=True)
        X = (X - X.mean(axis=0)) / X.std(axis=0)
    else:
        rng = np.random.RandomState(seed)
        X = rng.randn(n_rows or default_rows, sizes[0])
        y = (X[:, : sizes[0] // 2].sum(axis=1) > 0).astype(float)
    return np.ascontiguousarray(X, dtype=dtype), y.reshape(-1, 1).astype(dtype)
