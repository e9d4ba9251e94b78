"""ONNX export without scikit-learn: `to_onnx` writes a model's forward pass as an ONNX graph.

The graph uses standard operators only (opset 17 by default), each activation written as its definition in
`fastbp.reference` (composites of Exp, Log, Tanh, Erf, Where, ... with constants in the model's dtype, since
ONNX's own attributes of LeakyRelu or Selu are float32), so float64 graphs compute in float64. One caveat of
the runtime, not of the graph: onnxruntime has no float64 Erf, so a float64 model with a "gelu" layer runs in
runtimes that implement it (such as onnx's reference evaluator) but not in onnxruntime; export it in float32
(``net.copy(dtype="float32")``) for onnxruntime. A drop-in estimator's graph (`estimator_model`) adds its
outputs (labels and probabilities, or predictions) on top of its network's.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from fastbp import _validation as v
from fastbp import reference
from fastbp.network import MLP

MIN_OPSET = 17


def _onnx():
    try:
        import onnx
    except ImportError as exc:
        raise ImportError("ONNX export needs the onnx package: pip install 'fastbp[onnx]'") from exc
    return onnx


class Graph:
    """An ONNX graph under construction: nodes, constants (in one float dtype) and fresh value names."""

    def __init__(self, dtype: np.dtype) -> None:
        self.onnx = _onnx()
        self.dtype = np.dtype(dtype)
        self.nodes: list[Any] = []
        self.initializers: list[Any] = []
        self.constants: dict[tuple, str] = {}  # each scalar constant once
        self.count = 0

    def name(self, hint: str) -> str:
        self.count += 1
        return f"{hint}_{self.count}"

    def const(self, value: Any, hint: str = "c", dtype: Any = None) -> str:
        """A constant tensor (in the graph's float dtype unless `dtype` is given); returns its name."""
        array = np.asarray(value, dtype=self.dtype if dtype is None else dtype)
        key = (array.dtype.str, array.shape, array.tobytes()) if array.size == 1 else None
        if key in self.constants:
            return self.constants[key]
        name = self.name(hint)
        self.initializers.append(self.onnx.numpy_helper.from_array(array, name))
        if key is not None:
            self.constants[key] = name
        return name

    def op(self, op_type: str, *inputs: str, hint: str | None = None, output: str | None = None,
           **attributes: Any) -> str:
        """Append one node; returns the name of its output (`output`, or a fresh name)."""
        output = output or self.name(hint or op_type.lower())
        self.nodes.append(self.onnx.helper.make_node(op_type, list(inputs), [output], **attributes))
        return output

    def model(self, inputs: list[Any], outputs: list[Any], opset: int, doc: str) -> Any:
        """The `onnx.ModelProto` of the graph, checked by onnx's checker."""
        helper = self.onnx.helper
        graph = helper.make_graph(self.nodes, "fastbp", inputs, outputs, initializer=self.initializers)
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)], producer_name="fastbp",
                                  doc_string=doc)
        self.onnx.checker.check_model(model, full_check=True)
        return model

    def tensor_type(self, dtype: Any = None) -> int:
        return self.onnx.helper.np_dtype_to_tensor_dtype(np.dtype(self.dtype if dtype is None else dtype))

    # --- the math, as fastbp.reference writes it ---------------------------------------------------------

    def softplus_unit(self, z: str) -> str:
        """PyTorch's softplus: z above the threshold 20, else log(1 + e^z) (e^z of at most e^20 never overflows)."""
        threshold = self.const(reference.SOFTPLUS_THRESHOLD)
        soft = self.op("Log", self.op("Add", self.op("Exp", self.op("Min", z, threshold)), self.const(1.0)))
        return self.op("Where", self.op("Greater", z, threshold), z, soft)

    def activation(self, name: str, z: str) -> str:
        """f(z) of the hidden activation `name`."""
        if name == "identity":
            return z
        simple = {"logistic": "Sigmoid", "tanh": "Tanh", "relu": "Relu"}
        if name in simple:
            return self.op(simple[name], z)
        if name == "leaky_relu":
            positive = self.op("Greater", z, self.const(0.0))
            return self.op("Where", positive, z, self.op("Mul", z, self.const(reference.LEAKY_SLOPE)))
        if name in ("elu", "selu"):
            zero = self.const(0.0)
            negative = self.op("Sub", self.op("Exp", self.op("Min", z, zero)), self.const(1.0))  # e^min(z,0) - 1
            if name == "elu":
                return self.op("Where", self.op("Greater", z, zero), z, negative)
            return self.op("Mul", self.const(reference.SELU_SCALE), self.op(
                "Where", self.op("Greater", z, zero), z, self.op("Mul", negative, self.const(reference.SELU_ALPHA))))
        if name == "softplus":
            return self.softplus_unit(z)
        if name == "gelu":  # 0.5 z (1 + erf(z / sqrt 2))
            erf = self.op("Erf", self.op("Mul", z, self.const(1 / math.sqrt(2))))
            return self.op("Mul", self.op("Mul", z, self.const(0.5)), self.op("Add", erf, self.const(1.0)))
        if name == "gelu_tanh":  # 0.5 z (1 + tanh(sqrt(2/pi) (z + 0.044715 z^3)))
            cube = self.op("Mul", self.op("Mul", z, z), z)
            inner = self.op("Add", z, self.op("Mul", cube, self.const(reference.GELU_KAPPA)))
            t = self.op("Tanh", self.op("Mul", inner, self.const(reference.SQRT_2_OVER_PI)))
            return self.op("Mul", self.op("Mul", z, self.const(0.5)), self.op("Add", t, self.const(1.0)))
        if name == "silu":
            return self.op("Mul", z, self.op("Sigmoid", z))
        if name == "mish":
            return self.op("Mul", z, self.op("Tanh", self.softplus_unit(z)))
        raise ValueError(f"no ONNX form for activation {name!r}")  # pragma: no cover - every name has one

    def network(self, net: MLP, x: str) -> str:
        """y_hat of `net` for the input named x: every layer's product, then its activation, then the output. An
        ensemble's k members run as (k, n_samples, units) tensors, and y_hat is the mean of their outputs. With
        inputs, the first layer reads the embeddings (or the numeric columns) and adds a Gather of its rows for
        the categorical codes (`inputs`)."""
        a, lookup = (x, None) if net.layout.inputs is None else self.inputs(net, x)
        for l, (W, b) in enumerate(zip(net.coefs, net.intercepts)):
            extra = lookup if l == 0 else None
            if net.ensemble_size > 1:
                z = self.members_layer(net, l, a, extra)
            elif W.shape[0] == 0:  # every column categorical: the lookups are the whole product
                assert extra is not None, "a first layer without dense input has categorical columns"
                z = self.op("Add", extra, self.const(b, f"b{l}"), hint=f"z{l + 1}")
            else:
                z = self.op("Gemm", a, self.const(W, f"W{l}"), self.const(b, f"b{l}"), hint=f"z{l + 1}")
                z = z if extra is None else self.op("Add", z, extra)
            a = z if l == len(net.coefs) - 1 else self.activation(net.activations[l], z)
        if net.output == "softmax":
            a = self.op("Softmax", a, axis=-1)
        elif net.output != "identity":
            a = self.op({"logistic": "Sigmoid", "exp": "Exp"}[net.output], a)
        if net.ensemble_size == 1:
            return a
        total = self.op("ReduceSum", a, self.const([0], dtype=np.int64), keepdims=0)
        return self.op("Mul", total, self.const(1.0 / net.ensemble_size))

    def inputs(self, net: MLP, x: str) -> tuple[str, str | None]:
        """(the first layer's dense input (n_samples, width), the sum of its rows for the categorical codes:
        (n_samples, n_out), or (k, n_samples, n_out) for an ensemble, r folded in; None without categories)."""
        inputs, layout, params = net.layout.inputs, net.layout, net.params
        int64 = np.int64
        numeric = self.op("Slice", x, self.const([0], dtype=int64), self.const([inputs.n_numeric], dtype=int64),
                          self.const([1], dtype=int64))
        dense = numeric if inputs.embedding is None else self.embedding(net, numeric)
        if not inputs.categories:
            return dense, None
        codes = self.op("Slice", x, self.const([inputs.n_numeric], dtype=int64),
                        self.const([inputs.n_columns], dtype=int64), self.const([1], dtype=int64))
        known = self.op("And", self.op("GreaterOrEqual", codes, self.const(0.0)),
                        self.op("Less", codes, self.const(np.asarray(inputs.categories, dtype=float))))
        C = inputs.n_categories
        index = self.op("Add", self.op("Cast", codes, to=self.tensor_type(int64)),
                        self.const(inputs.offsets[:-1], dtype=int64))
        rows = self.op("Where", known, index, self.const(C, dtype=int64))  # row C: the unknown codes' zeros
        W = layout.block("category_weight", 0).view(params)
        r = layout.find("category_scale", 0)
        if net.ensemble_size > 1:  # (k, C, n_out): each member's rows, times its r
            W = np.broadcast_to(W, (net.ensemble_size,) + W.shape[-2:]) if W.ndim == 2 else W
            W = W * (1.0 if r is None else r.view(params)[:, :, None])
        pad = [(0, 0)] * (W.ndim - 2) + [(0, 1), (0, 0)]  # row C: zeros, the unknown codes' row
        table = self.const(np.pad(W, pad), "C0")
        axis = W.ndim - 2
        looked_up = self.op("Gather", table, rows, axis=axis)  # (n, c, n_out) or (k, n, c, n_out)
        return dense, self.op("ReduceSum", looked_up, self.const([axis + 1], dtype=int64), keepdims=0)

    def embedding(self, net: MLP, x: str) -> str:
        """The embeddings (n_samples, n_numeric d) of the numeric columns x, as ``fastbp.embeddings`` computes them."""
        embedding, layout, params = net.layout.inputs.embedding, net.layout, net.params
        block = {role: layout.find(role, -1) for role in ("embedding_weight", "embedding_bias", "linear_weight",
                                                          "linear_bias", "frequencies")}
        x3 = self.op("Unsqueeze", x, self.const([2], dtype=np.int64))  # (n, f, 1)
        W = block["embedding_weight"].view(params)
        if embedding.kind == "piecewise_linear":
            weight, bias = embedding.encoding()
            B = weight.shape[1]
            lower, upper = np.zeros_like(weight), np.ones_like(weight)
            lower[:, 0], upper[:, -1] = -np.inf, np.inf  # the first bin is not clamped below, the last not above
            single = weight[:, 0] == 0 if B > 1 else np.ones(len(weight), bool)
            lower[single, -1] = -np.inf
            if B == 1:
                upper[:] = np.inf
            e = self.op("Add", self.op("Mul", x3, self.const(weight)), self.const(bias))
            e = self.op("Min", self.op("Max", e, self.const(lower)), self.const(upper))
            z = self.op("Einsum", e, self.const(W, "E"), equation="nfb,fbd->nfd")
            z = self.op("Relu", z) if embedding.activation else z
            linear = self.op("Add", self.op("Mul", x3, self.const(block["linear_weight"].view(params), "L")),
                             self.const(block["linear_bias"].view(params), "l"))
            out = self.op("Add", linear, z)
        else:
            frequencies = block["frequencies"].view(params)
            angle = self.op("Mul", self.op("Mul", self.const(2 * np.pi), self.const(frequencies, "F")), x3)
            features = self.op("Concat", self.op("Cos", angle), self.op("Sin", angle), axis=-1)
            z = self.op("Einsum", features, self.const(W, "E"), equation="nfc,cd->nfd" if W.ndim == 2 else
                        "nfc,fcd->nfd")
            out = self.op("Add", z, self.const(block["embedding_bias"].view(params), "e"))
            out = self.op("Relu", out) if embedding.activation else out
        return self.op("Reshape", out, self.const([0, net.layout.inputs.width], dtype=np.int64))

    def members_layer(self, net: MLP, l: int, a: str, extra: str | None = None) -> str:
        """z of layer l of an ensemble, (k, n_samples, n_out), from its input a: X (n_samples, n_features) for the
        first layer, else (k, n_samples, n_in): ((a * r) W + extra) * s + b, member by member (extra: the
        categorical rows' sum, or None)."""
        layout, params = net.layout, net.params
        per_member = {role: layout.find(role, l) for role in ("in_scale", "out_scale")}
        W = layout.block("weight", l).view(params)
        if W.shape[-2] == 0:  # every column categorical: the lookups are the whole product
            assert extra is not None, "a first layer without dense input has categorical columns"
            z = extra
        else:
            if l == 0:
                a = self.op("Unsqueeze", a, self.const([0], dtype=np.int64))  # (1, n_samples, n_features)
            if per_member["in_scale"] is not None:
                a = self.op("Mul", a, self.const(per_member["in_scale"].view(params)[:, None, :], f"r{l}"))
            z = self.op("MatMul", a, self.const(W, f"W{l}"))
            z = z if extra is None else self.op("Add", z, extra)
        if per_member["out_scale"] is not None:
            z = self.op("Mul", z, self.const(per_member["out_scale"].view(params)[:, None, :], f"s{l}"))
        b = layout.block("bias", l).view(params)
        return self.op("Add", z, self.const(b[:, None, :] if b.ndim == 2 else b, f"b{l}"), hint=f"z{l + 1}")

    def classifier_outputs(self, y_hat: str, net: MLP, classes: np.ndarray) -> list[Any]:
        """The outputs "label" (as a classifier's predict) and "probabilities" (as its predict_proba) of
        y_hat, the value infos in that order."""
        helper = self.onnx.helper
        p = y_hat
        if net.n_outputs == 1:  # binary: the columns 1 - p, p
            p = self.op("Concat", self.op("Sub", self.const([[1.0]]), y_hat), y_hat, axis=1)
        self.op("Identity", p, output="probabilities")
        probabilities = helper.make_tensor_value_info("probabilities", self.tensor_type(),
                                                      [None, max(net.n_outputs, 2)])
        int64 = self.tensor_type(np.int64)
        if net.output == "logistic" and net.n_outputs > 1:  # multilabel: the 0/1 indicator matrix
            self.op("Cast", self.op("Greater", y_hat, self.const(0.5)), to=int64, output="label")
            return [helper.make_tensor_value_info("label", int64, [None, net.n_outputs]), probabilities]
        if net.output == "softmax":
            index = self.op("ArgMax", y_hat, axis=1, keepdims=0)
        else:  # binary: the second class where p > 0.5, as LabelBinarizer thresholds
            column = self.op("Squeeze", y_hat, self.const([1], dtype=np.int64))
            index = self.op("Cast", self.op("Greater", column, self.const(0.5)), to=int64)
        # The labels as a constant table: strings stay strings, numbers keep their kind.
        table = classes.astype(object) if classes.dtype.kind in "OUS" else classes
        self.initializers.append(self.onnx.numpy_helper.from_array(table, "classes"))
        self.op("Gather", "classes", index, axis=0, output="label")
        return [helper.make_tensor_value_info("label", helper.np_dtype_to_tensor_dtype(table.dtype), [None]),
                probabilities]


def check_opset(opset: int) -> int:
    """An opset from MIN_OPSET to the newest the installed onnx knows (a newer one writes a model nothing loads)."""
    opset = v.check_int("opset", opset, minimum=MIN_OPSET)
    onnx = _onnx()
    newest = onnx.defs.onnx_opset_version()
    if opset > newest:
        raise ValueError(f"opset must be at most {newest}, the newest the installed onnx {onnx.__version__} knows; "
                         f"got {opset}")
    return opset


def network_graph(net: MLP) -> tuple[Graph, str, str]:
    """(graph, input name, y_hat's name) of the network's forward pass."""
    graph = Graph(net.dtype)
    return graph, "X", graph.network(net, "X")


def estimator_model(net: MLP, classes: np.ndarray | None, opset: int, doc: str,
                    encode: Callable[[Graph, str], str] | None = None, n_features: int | None = None,
                    target: tuple[float, float] | None = None) -> Any:
    """The ONNX model of a fitted drop-in whose network is `net`: a classifier's (with its `classes`) gives
    "label" (as predict) and "probabilities" (as predict_proba), a regressor's (classes None) "prediction".

    A tabular estimator's adds its columns' encoding: `encode(graph, "X")` names the network's input made from
    "X", float64 (n_samples, `n_features`: the table's columns); and `target` (scale, mean) turns a regressor's
    prediction back into the target's units, in float64."""
    graph = Graph(net.dtype)
    x = "X"
    y_hat = graph.network(net, x if encode is None else encode(graph, x))
    helper = graph.onnx.helper
    if classes is None:
        if net.n_outputs == 1:
            y_hat = graph.op("Squeeze", y_hat, graph.const([1], dtype=np.int64))
        out_type = graph.tensor_type()
        if target is not None:
            scale, mean = (graph.const(value, dtype=np.float64) for value in target)
            y_hat = graph.op("Add", graph.op("Mul", graph.op("Cast", y_hat, to=graph.tensor_type(np.float64)),
                                             scale), mean)
            out_type = graph.tensor_type(np.float64)
        graph.op("Identity", y_hat, output="prediction")
        outputs = [helper.make_tensor_value_info("prediction", out_type,
                                                 [None] if net.n_outputs == 1 else [None, net.n_outputs])]
    else:
        outputs = graph.classifier_outputs(y_hat, net, classes)
    n_features = net.n_features if encode is None else n_features
    x_type = graph.tensor_type() if encode is None else graph.tensor_type(np.float64)
    return graph.model([helper.make_tensor_value_info(x, x_type, [None, n_features])], outputs, opset, doc)


def to_onnx(model: Any, opset: int = MIN_OPSET) -> Any:
    """The ONNX model (an ``onnx.ModelProto``) of a `fastbp.MLP`, a fitted drop-in or a fitted tabular estimator.

    An MLP's graph takes "X", float (n_samples, n_features) in the model's dtype, and gives "y_hat", its
    `MLP.forward` (no dropout: inference). A fitted `MLPClassifier` gives "label" (as `predict`) and
    "probabilities" (as `predict_proba`); an `MLPRegressor` gives "prediction" (as `predict`). A tabular
    estimator's graph includes its columns' encoding (`TabularRegressor.to_onnx`). Every
    activation and output has a graph of standard operators; the model is checked by onnx's checker.

    Parameters
    ----------
    model : MLP, MLPClassifier, MLPRegressor, TabularClassifier or TabularRegressor
    opset : int >= 17, default=17
        The ONNX operator set the model declares.

    Returns
    -------
    onnx.ModelProto
        Save it with ``onnx.save(model, "model.onnx")``.

    Raises
    ------
    ImportError
        Without the onnx package (``pip install 'fastbp[onnx]'``).

    Examples
    --------
    >>> import numpy as np
    >>> import fastbp
    >>> import onnxruntime
    >>> net = fastbp.MLP([4, 8, 3], activation="silu", output="softmax", dtype="float32", random_state=0)
    >>> session = onnxruntime.InferenceSession(fastbp.to_onnx(net).SerializeToString())
    >>> X = np.random.RandomState(0).randn(5, 4).astype(np.float32)
    >>> y_hat, = session.run(None, {"X": X})
    >>> bool(np.abs(y_hat - net.forward(X)).max() < 1e-6)
    True
    """
    opset = check_opset(opset)
    if isinstance(model, MLP):
        graph, x, y_hat = network_graph(model)
        y_hat = graph.op("Identity", y_hat, output="y_hat")
        helper = graph.onnx.helper
        return graph.model([helper.make_tensor_value_info(x, graph.tensor_type(), [None, model.n_features])],
                           [helper.make_tensor_value_info(y_hat, graph.tensor_type(), [None, model.n_outputs])],
                           opset, repr(model))
    if hasattr(model, "to_onnx") and hasattr(model, "get_params"):  # the estimators export themselves
        return model.to_onnx(opset=opset)
    raise TypeError(f"to_onnx takes a fastbp.MLP or a fitted fastbp.MLPClassifier, MLPRegressor, TabularClassifier "
                    f"or TabularRegressor, got "
                    f"{type(model).__name__}")
