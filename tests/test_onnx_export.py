"""`fastbp.to_onnx`: the exported graph, run by onnxruntime, computes what the model computes, for every
activation and output, in float32 (max abs difference <= 1e-5) and float64 (<= 1e-10). onnxruntime has no
float64 Erf, so float64 "gelu" graphs run in onnx's reference evaluator with an exact Erf instead."""

import numpy as np
import pytest
import scipy.special

import fastbp
from _helpers import EVERY_ACTIVATION

onnx = pytest.importorskip("onnx", reason="needs the onnx extra: pip install 'fastbp[onnx]'")
ort = pytest.importorskip("onnxruntime", reason="needs the onnx extra: pip install 'fastbp[onnx]'")
from onnx.reference import ReferenceEvaluator  # noqa: E402
from onnx.reference.op_run import OpRun  # noqa: E402

TOLERANCE = {"float32": 1e-5, "float64": 1e-10}


class Erf(OpRun):
    """Erf in the input's dtype (onnx's reference evaluator computes it in float32); the evaluator takes an
    operator's type from its class's name."""

    op_domain = ""

    def _run(self, x):
        return (scipy.special.erf(x).astype(x.dtype),)


def run(model, X):
    """The graph's outputs for X: in onnxruntime, or where it has no kernel (float64 Erf), in the reference
    evaluator."""
    try:
        session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnxruntime's NOT_IMPLEMENTED
        assert "Erf" in str(exc) and X.dtype == np.float64, exc
        return ReferenceEvaluator(model, new_ops=[Erf]).run(None, {"X": X})
    return session.run(None, {"X": X})


@pytest.mark.parametrize("output, n_outputs", [("softmax", 3), ("logistic", 2), ("identity", 2), ("exp", 1)])
@pytest.mark.parametrize("activation", EVERY_ACTIVATION)
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_the_exported_network_computes_its_forward_pass(activation, output, n_outputs, dtype):
    rng = np.random.RandomState(0)
    net = fastbp.MLP([5, 8, 6, n_outputs], [activation, "tanh"], output, dtype=dtype, random_state=1, dropout=0.2)
    X = (2 * rng.randn(64, 5)).astype(dtype)
    X[:4] *= 15  # far into every activation's tails (softplus's threshold, saturation)
    model = fastbp.to_onnx(net)
    y_hat, = run(model, X)
    assert y_hat.dtype == np.dtype(dtype) and y_hat.shape == (64, n_outputs)
    assert np.abs(y_hat - net.forward(X)).max() <= TOLERANCE[dtype] * max(1.0, np.abs(y_hat).max() / 10)
    assert model.opset_import[0].version == 17


def test_per_layer_activations_and_another_opset_export():
    net = fastbp.MLP([3, 4, 5, 6, 2], ["selu", "mish", "leaky_relu"], "softmax", random_state=0)
    model = fastbp.to_onnx(net, opset=19)
    assert model.opset_import[0].version == 19
    X = np.random.RandomState(1).randn(20, 3)
    assert np.abs(run(model, X)[0] - net.forward(X)).max() <= 1e-10


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.parametrize("labels", ["integers", "strings", "binary", "multilabel"])
def test_an_exported_classifier_gives_its_labels_and_probabilities(labels):
    from sklearn.datasets import load_iris

    X, y = load_iris(return_X_y=True)
    y = {"integers": y + 3, "strings": np.array(["setosa", "versicolor", "virginica"])[y], "binary": y == 1,
         "multilabel": np.c_[y == 1, y == 2]}[labels]
    clf = fastbp.MLPClassifier((8, 6), activation=["gelu_tanh", "silu"], solver="adamw", dropout=0.1, max_iter=30,
                               random_state=0, learning_rate_init=0.01)
    clf.fit(X, y)
    label, probabilities = run(fastbp.to_onnx(clf), X)
    np.testing.assert_array_equal(label, clf.predict(X))
    assert np.abs(probabilities - clf.predict_proba(X)).max() <= 1e-10


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.parametrize("loss", ["squared_error", "huber", "poisson"])
@pytest.mark.parametrize("n_outputs", [1, 2])
def test_an_exported_regressor_gives_its_predictions(loss, n_outputs):
    rng = np.random.RandomState(0)
    X = rng.rand(80, 4).astype(np.float32)
    y = np.abs(X[:, :n_outputs] * 3).squeeze()
    reg = fastbp.MLPRegressor(hidden_layer_sizes=(7,), activation="softplus", loss=loss, max_iter=40,
                              random_state=0).fit(X, y)
    prediction, = run(reg.to_onnx(), X)
    assert prediction.shape == reg.predict(X).shape
    assert np.abs(prediction - reg.predict(X)).max() <= 1e-5


def test_export_refuses_what_it_cannot_export():
    with pytest.raises(TypeError, match="to_onnx takes a fastbp.MLP"):
        fastbp.to_onnx("model")
    with pytest.raises(ValueError, match="opset must be >= 17"):
        fastbp.to_onnx(fastbp.MLP([2, 1]), opset=13)
    newest = onnx.defs.onnx_opset_version()
    with pytest.raises(ValueError, match=f"opset must be at most {newest}, the newest the installed onnx"):
        fastbp.to_onnx(fastbp.MLP([2, 1]), opset=10**6)  # a model nothing could load
    from sklearn.exceptions import NotFittedError
    with pytest.raises(NotFittedError):
        fastbp.to_onnx(fastbp.MLPClassifier())


def test_the_exported_model_passes_onnxs_checker_and_saves(tmp_path):
    net = fastbp.MLP([4, 3, 2], "gelu", "softmax", random_state=0)
    path = tmp_path / "net.onnx"
    onnx.save(fastbp.to_onnx(net), path)
    model = onnx.load(path)
    onnx.checker.check_model(model, full_check=True)
    assert [i.name for i in model.graph.input] == ["X"] and [o.name for o in model.graph.output] == ["y_hat"]
