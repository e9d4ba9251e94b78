"""The benchmark workloads, in two suites.

"classic" (the default): the plain-SGD workloads of the performance page (binary targets, logistic hidden
and output layers, plain SGD over the rows in order), and "modern" (what people now train on tabular data: GELU
then ReLU, dropout, AdamW with a per-step warmup-cosine schedule, clipping, a softmax over 10 classes).

"realistic": what users of the drop-ins train, scikit-learn's defaults but for the sizes: ReLU hidden layers,
Adam at 1e-3, a softmax (an identity output for the regression), shuffled minibatches; on digits, a
covertype-shaped tabular set, an MNIST-shaped one, a regression and a small-batch problem.

"ensembles": TabM (k = 32 members sharing each hidden layer's W, `tabm`'s default) on a regression of 8
numeric features: 3 x 512 ReLU layers, dropout 0.1, AdamW at 2e-3, batches of 256 rows; and "tabm-ple",
TabM-mini with piecewise-linear embeddings (48 bins, d_embedding 16) of 8 numeric features and 4 categorical
columns of 10 categories, 2 x 512. Their PyTorch peer is the `tabm` package's model (with
`rtdl_num_embeddings`' embedding).
"""

from dataclasses import dataclass

import numpy as np

# name: (layer sizes, number of rows, batch size)
WORKLOADS = {
    "tiny": ((30, 16, 1), 569, 32),
    "small": ((64, 64, 64, 1), 8192, 64),
    "medium": ((784, 256, 128, 1), 16384, 128),
    "large": ((1024, 1024, 1024, 1), 8192, 256),
    "modern": ((784, 512, 256, 10), 16384, 128),
    "digits": ((64, 100, 10), 1797, 200),
    "tabular": ((54, 256, 256, 7), 50000, 256),
    "mnist-shaped": ((784, 512, 256, 10), 20000, 128),
    "regression": ((100, 512, 512, 1), 20000, 64),
    "small-batch": ((32, 64, 64, 4), 16384, 32),
    "tabm": ((8, 512, 512, 512, 1), 16384, 256),
    "tabm-ple": ((12, 512, 512, 1), 16384, 256),  # 8 numeric columns, then 4 categorical
}
PLAIN_SGD = ("tiny", "small", "medium", "large")  # the plain-SGD ones: what the pytest-benchmark suites run
SUITES = {"classic": PLAIN_SGD + ("modern",),
          "realistic": ("digits", "tabular", "mnist-shaped", "regression", "small-batch"),
          "ensembles": ("tabm", "tabm-ple")}


@dataclass(frozen=True)
class Model:
    """What a workload trains besides its layer sizes: the hidden layers' activations and dropout rate, the
    output, the optimizer ("sgd": plain SGD at the benchmark's learning rate; "adam": Adam(1e-3), scikit-learn's;
    "adamw": AdamW(1e-3, weight_decay=1e-2)), whether the rate follows a per-step warmup-cosine schedule over the
    epoch (warmup over its first tenth), the gradient's largest norm, and whether the epoch walks the rows in a
    shuffled order (the same for every system and every timed epoch: `order`); an ensemble's members and form
    (`fastbp.MLP`'s ensemble_size and ensemble), and AdamW's learning rate; the cardinalities of X's last columns
    (`fastbp.MLP`'s categories) and the bins and size of a piecewise-linear embedding of the others (0 bins:
    none)."""

    activations: tuple = ("logistic",)
    output: str = "logistic"
    dropout: float = 0.0
    optimizer: str = "sgd"
    warmup_cosine: bool = False
    clip_norm: float | None = None
    shuffle: bool = False
    members: int = 1
    ensemble: str = "batch"
    adamw_rate: float = 1e-3
    categories: tuple = ()
    n_bins: int = 0
    d_embedding: int = 16

    def activation_of(self, n_hidden):
        return self.activations if len(self.activations) == n_hidden else self.activations * n_hidden


CLASSIC = Model()
REALISTIC = Model(("relu",), "softmax", optimizer="adam", shuffle=True)
MODELS = {"modern": Model(("gelu", "relu"), "softmax", dropout=0.1, optimizer="adamw", warmup_cosine=True,
                          clip_norm=1.0),
          **{name: REALISTIC for name in SUITES["realistic"]},
          "regression": Model(("relu",), "identity", optimizer="adam", shuffle=True),
          "tabm": Model(("relu",), "identity", dropout=0.1, optimizer="adamw", shuffle=True, members=32,
                        adamw_rate=2e-3),
          "tabm-ple": Model(("relu",), "identity", dropout=0.1, optimizer="adamw", shuffle=True, members=32,
                            ensemble="mini", adamw_rate=2e-3, categories=(10,) * 4, n_bins=48)}


def model_of(name):
    """The `Model` a workload trains."""
    return MODELS.get(name, CLASSIC)


def order(n_rows, seed=0):
    """The shuffled order of a shuffled workload's rows: the permutation that `fastbp.epochs.FitLoop` draws for
    its first epoch from RandomState(seed), as scikit-learn's MLP draws it."""
    permutation = np.arange(n_rows)
    np.random.RandomState(seed).shuffle(permutation)
    return permutation


def make_data(name, dtype, n_rows=None, seed=0):
    """X (rows, n_features) and Y (rows, n_outputs) of `dtype`, C-contiguous.

    "tiny" is scikit-learn's breast-cancer data, standardised, and "digits" its digits scaled to [0, 1] (their
    own rows; `n_rows` does not apply); the classic others are Gaussian features labelled by the sign of the
    sum of their first half; the softmax ones have Gaussian features and one-hot labels of the largest of
    random projections; the regression's target is a projection of its features (and, with categorical columns,
    plus an effect of each column's category).
    """
    sizes, default_rows, _ = WORKLOADS[name]
    rng = np.random.RandomState(seed)
    categories = model_of(name).categories
    if categories:
        n, n_numeric = n_rows or default_rows, sizes[0] - len(categories)
        numeric = rng.randn(n, n_numeric)
        codes = np.column_stack([rng.randint(0, c, n) for c in categories])
        effects = sum(rng.randn(c)[codes[:, j]] for j, c in enumerate(categories))
        Y = np.tanh(numeric @ rng.randn(n_numeric, 1) / np.sqrt(n_numeric) + 0.5 * effects[:, None])
        X = np.column_stack([numeric, codes])
    elif name == "tiny":
        from sklearn.datasets import load_breast_cancer

        X, y = load_breast_cancer(return_X_y=True)
        X = (X - X.mean(axis=0)) / X.std(axis=0)
        Y = y.reshape(-1, 1)
    elif name == "digits":
        from sklearn.datasets import load_digits

        X, y = load_digits(return_X_y=True)
        X, Y = X / 16.0, np.eye(10)[y]
    elif model_of(name).output == "identity":
        X = rng.randn(n_rows or default_rows, sizes[0])
        Y = np.tanh(X @ rng.randn(sizes[0], 1) / np.sqrt(sizes[0]))
    elif model_of(name).output == "softmax":
        X = rng.randn(n_rows or default_rows, sizes[0])
        Y = np.eye(sizes[-1])[(X @ rng.randn(sizes[0], sizes[-1])).argmax(axis=1)]
    else:
        X = rng.randn(n_rows or default_rows, sizes[0])
        Y = (X[:, : sizes[0] // 2].sum(axis=1) > 0).astype(float).reshape(-1, 1)
    return np.ascontiguousarray(X, dtype=dtype), np.ascontiguousarray(Y, dtype=dtype)
