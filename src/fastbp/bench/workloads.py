"""The benchmark workloads: DESIGN.md section 6's (binary targets, logistic hidden and output layers, plain
SGD), and the "modern" one (what people now train on tabular data: GELU then ReLU, dropout, AdamW with a
per-step warmup-cosine schedule, clipping, a softmax over 10 classes)."""

from dataclasses import dataclass

import numpy as np

# name: (layer sizes, number of rows, batch size)
WORKLOADS = {
    "tiny": ((30, 16, 1), 569, 32),
    "small": ((64, 64, 64, 1), 8192, 64),
    "medium": ((784, 256, 128, 1), 16384, 128),
    "large": ((1024, 1024, 1024, 1), 8192, 256),
    "modern": ((784, 512, 256, 10), 16384, 128),
}


@dataclass(frozen=True)
class Model:
    """What a workload trains besides its layer sizes: the hidden layers' activations and dropout rate, the
    output, the optimizer ("sgd": plain SGD at the benchmark's learning rate; "adamw": AdamW(1e-3,
    weight_decay=1e-2)), whether the rate follows a per-step warmup-cosine schedule over the epoch (warmup
    over its first tenth), and the gradient's largest norm."""

    activations: tuple = ("logistic",)
    output: str = "logistic"
    dropout: float = 0.0
    optimizer: str = "sgd"
    warmup_cosine: bool = False
    clip_norm: float | None = None

    def activation_of(self, n_hidden):
        return self.activations if len(self.activations) == n_hidden else self.activations * n_hidden


CLASSIC = Model()
MODELS = {"modern": Model(("gelu", "relu"), "softmax", dropout=0.1, optimizer="adamw", warmup_cosine=True,
                          clip_norm=1.0)}


def model_of(name):
    """The `Model` a workload trains."""
    return MODELS.get(name, CLASSIC)


def make_data(name, dtype, n_rows=None, seed=0):
    """X (rows, n_features) and Y (rows, n_outputs) of `dtype`, C-contiguous.

    "tiny" is scikit-learn's breast-cancer data, standardised (its 569 rows; `n_rows` does not apply);
    the classic others are Gaussian features labelled by the sign of the sum of their first half; "modern"
    has Gaussian features and one-hot labels of the largest of 10 random projections.
    """
    sizes, default_rows, _ = WORKLOADS[name]
    rng = np.random.RandomState(seed)
    if name == "tiny":
        from sklearn.datasets import load_breast_cancer

        X, y = load_breast_cancer(return_X_y=True)
        X = (X - X.mean(axis=0)) / X.std(axis=0)
        Y = y.reshape(-1, 1)
    elif model_of(name).output == "softmax":
        X = rng.randn(n_rows or default_rows, sizes[0])
        Y = np.eye(sizes[-1])[(X @ rng.randn(sizes[0], sizes[-1])).argmax(axis=1)]
    else:
        X = rng.randn(n_rows or default_rows, sizes[0])
        Y = (X[:, : sizes[0] // 2].sum(axis=1) > 0).astype(float).reshape(-1, 1)
    return np.ascontiguousarray(X, dtype=dtype), np.ascontiguousarray(Y, dtype=dtype)
