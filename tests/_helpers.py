"""What several test files share: the activations and outputs to parametrize over, targets in each output's
domain, a network on both backends, and the documentation's code examples."""

import pathlib
import textwrap

import numpy as np

import fastbp

ACTIVATIONS = ("logistic", "tanh", "relu", "identity")  # scikit-learn's
NEW_ACTIVATIONS = ("leaky_relu", "elu", "selu", "softplus", "gelu", "gelu_tanh", "silu", "mish")  # PyTorch's
EVERY_ACTIVATION = ACTIVATIONS + NEW_ACTIVATIONS
OUTPUTS = ("logistic", "softmax", "identity", "exp")
DTYPES = (np.float64, np.float32)
DOCS = pathlib.Path(__file__).resolve().parents[1] / "docs"


def doc_code_blocks(page, language="python"):
    """The ``.. code-block:: <language>`` examples of the documentation page docs/<page>, dedented, in order:
    the tests run the examples that the pages show as plain code (the doctests run in the docs build)."""
    blocks, lines = [], (DOCS / page).read_text().splitlines()
    for start, line in enumerate(lines):
        if line.strip() != f".. code-block:: {language}":
            continue
        body = []
        for line in lines[start + 1:]:
            if line.strip() and not line.startswith(" "):
                break
            body.append(line)
        blocks.append(textwrap.dedent("\n".join(body)).strip("\n") + "\n")
    assert blocks, f"docs/{page} has no {language} code block"
    return blocks


def make_targets(output, n_samples, n_outputs, rng):
    """Targets in each output's domain: probabilities, one-hot rows, real values, counts."""
    if output == "logistic":
        return rng.rand(n_samples, n_outputs)
    if output == "softmax":
        return np.eye(n_outputs)[rng.randint(0, n_outputs, n_samples)]
    if output == "exp":
        return rng.poisson(1.5, (n_samples, n_outputs)).astype(float)
    return rng.randn(n_samples, n_outputs)


def net_pair(layer_sizes, activation="logistic", output="logistic", dtype=np.float64, seed=0):
    """The same network on the compiled and the NumPy backend."""
    net = fastbp.MLP(layer_sizes, activation, output, dtype=dtype, random_state=seed)
    return net, net.copy(backend="numpy")


def assert_same_state(a, b, path="state"):
    """Assert that `a` and `b` hold the same state, field by field: arrays bitwise with their dtype, containers item
    by item, other objects by all their attributes (vars); the core's compiled tables, which have none and are
    rebuilt from the rest, by type."""
    assert type(a) is type(b), f"{path}: {type(a).__name__} != {type(b).__name__}"
    if isinstance(a, np.ndarray):
        assert a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes(), path
    elif isinstance(a, dict):
        assert sorted(a, key=str) == sorted(b, key=str), f"{path}: keys {sorted(a, key=str)} != {sorted(b, key=str)}"
        for key in a:
            assert_same_state(a[key], b[key], f"{path}[{key!r}]")
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b), f"{path}: {len(a)} != {len(b)} items"
        for i, (x, y) in enumerate(zip(a, b)):
            assert_same_state(x, y, f"{path}[{i}]")
    elif hasattr(a, "__dict__") and not isinstance(a, type):
        assert_same_state(vars(a), vars(b), f"{path}.")
    elif isinstance(a, float) and a != a:
        assert b != b, path  # NaN
    elif type(a).__module__.startswith("fastbp._core"):
        pass
    else:
        assert a == b, f"{path}: {a!r} != {b!r}"
