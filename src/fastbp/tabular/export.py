"""The ONNX graph of a fitted table encoding (`fastbp.tabular.columns.Columns`): the model's input from the table's
columns as float64 numbers, which the tabular estimators' `to_onnx` puts before their network's graph.

Each numeric column goes through the fitted quantile transform as scikit-learn's `QuantileTransformer` computes it
(the mean of the two interpolations through the quantiles, which splits a run of equal quantiles in the middle;
the bounds 1e-7 inside the first and last quantile; the normal quantile function, clipped as scikit-learn clips
it), with Acklam's rational approximation of that function (relative error below 1.2e-9) as ONNX has none; a
missing value (NaN) is 0. A categorical column's value is its level's code (-1 for a value that is no level, the
missing level's code for NaN), which needs numeric levels; a missing-value indicator is 1 where NaN.
"""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np

F64, I64 = np.float64, np.int64
# Acklam's approximation of the standard normal quantile function: a rational function of (p - 1/2)^2 in the
# middle, and of sqrt(-2 log p) in the tails below TAIL and above 1 - TAIL (highest degree first).
CENTRAL_NUMERATOR = (-3.969683028665376e+01, 2.209460984245205e+02, -2.759285104469687e+02, 1.383577518672690e+02,
                     -3.066479806614716e+01, 2.506628277459239e+00)
CENTRAL_DENOMINATOR = (-5.447609879822406e+01, 1.615858368580409e+02, -1.556989798598866e+02,
                       6.680131188771972e+01, -1.328068155288572e+01, 1.0)
TAIL_NUMERATOR = (-7.784894002430293e-03, -3.223964580411365e-01, -2.400758277161838e+00, -2.549732539343734e+00,
                  4.374664141464968e+00, 2.938163982698783e+00)
TAIL_DENOMINATOR = (7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e+00, 3.754408661907416e+00,
                    1.0)
TAIL = 0.02425
BOUNDS = 1e-7  # scikit-learn's BOUNDS_THRESHOLD
CLIP = BOUNDS - np.spacing(1)  # its clip of the scores: the quantile function of CLIP and of 1 - CLIP


def check_exportable(columns: Any, names: list[str] | None) -> None:
    """Refuse, naming the column, a categorical column whose levels are not numbers: the graph's input is one
    float64 matrix."""
    for j, (levels, _) in columns.levels.items():
        strings = [level for level in levels if not isinstance(level, numbers.Number)]
        if strings:
            name = j if names is None else names[j]
            raise ValueError(f"to_onnx takes numeric or integer-coded columns: categorical column {name!r} has "
                             f"levels that are not numbers ({strings[0]!r}); encode them as integers before fit")


def encoding(graph: Any, columns: Any, x: str, dtype: np.dtype) -> str:
    """The model's input (n_samples, its width) in `dtype` from the table x (n_samples, n_columns), float64."""
    parts = []
    if columns.quantiles is not None:
        kept = np.asarray(columns.kept, dtype=bool)
        numeric = graph.op("Gather", x, graph.const(np.asarray(columns.varying)[kept], dtype=I64), axis=1)
        parts.append(normal_scores(graph, numeric, columns.quantiles.quantiles_[:, kept],
                                   columns.quantiles.references_))
    for j, (levels, missing) in columns.levels.items():
        parts.append(codes(graph, column(graph, x, j), levels, missing))
    for j in columns.indicators:
        parts.append(graph.op("Cast", graph.op("IsNaN", column(graph, x, j)), to=graph.tensor_type(F64)))
    if columns.empty:  # a table with nothing to learn from: one zero column
        zero = graph.const([[0.0]], dtype=F64)
        parts.append(graph.op("Where", graph.op("IsNaN", column(graph, x, 0)), zero, zero))
    a = parts[0] if len(parts) == 1 else graph.op("Concat", *parts, axis=1)
    return a if np.dtype(dtype) == F64 else graph.op("Cast", a, to=graph.tensor_type(dtype))


def column(graph: Any, x: str, j: int) -> str:
    """Column j of x, (n_samples, 1)."""
    return graph.op("Gather", x, graph.const([j], dtype=I64), axis=1)


def polynomial(graph: Any, t: str, coefficients: tuple[float, ...]) -> str:
    """The polynomial (highest degree first) at t, by Horner's rule."""
    out = graph.const(coefficients[0], dtype=F64)
    for c in coefficients[1:]:
        out = graph.op("Add", graph.op("Mul", out, t), graph.const(c, dtype=F64))
    return out


def normal_quantile(graph: Any, p: str) -> str:
    """The standard normal quantile function at p, every p in (0, 1) (Acklam's approximation)."""
    half = graph.op("Sub", p, graph.const(0.5, dtype=F64))
    r = graph.op("Mul", half, half)
    central = graph.op("Div", graph.op("Mul", polynomial(graph, r, CENTRAL_NUMERATOR), half),
                       polynomial(graph, r, CENTRAL_DENOMINATOR))
    smaller = graph.op("Min", p, graph.op("Sub", graph.const(1.0, dtype=F64), p))
    t = graph.op("Sqrt", graph.op("Mul", graph.const(-2.0, dtype=F64), graph.op("Log", smaller)))
    tail = graph.op("Div", polynomial(graph, t, TAIL_NUMERATOR), polynomial(graph, t, TAIL_DENOMINATOR))
    upper = graph.op("Greater", p, graph.const(1 - TAIL, dtype=F64))
    return graph.op("Where", graph.op("Less", p, graph.const(TAIL, dtype=F64)), tail,
                    graph.op("Where", upper, graph.op("Neg", tail), central))


def normal_scores(graph: Any, x: str, quantiles: np.ndarray, references: np.ndarray) -> str:
    """The quantile transform's normal scores of x (n_samples, f) through its quantiles (n_quantiles, f), 0 where
    x is NaN. The interpolation is a sum over the segments between quantiles: a share of the rise of each
    (clipped to [0, 1]), and half of a step of zero width for each side of it that x is on or past."""
    def const(value):
        return graph.const(value, dtype=F64)

    def as_float(flags):
        return graph.op("Cast", flags, to=graph.tensor_type(F64))

    lower, upper = quantiles[:-1].T, quantiles[1:].T  # (f, segments)
    width = upper - lower
    rise = np.broadcast_to(np.diff(references), width.shape)
    sloped = width > 0
    missing = graph.op("IsNaN", x)
    x = graph.op("Where", missing, const(0.0), x)  # any finite value: the answer is 0 there
    x3 = graph.op("Unsqueeze", x, graph.const([2], dtype=I64))  # (n, f, 1)
    inverse_width = np.where(sloped, 1 / np.where(sloped, width, 1), 0)
    share = graph.op("Mul", graph.op("Sub", x3, const(lower)), const(inverse_width))
    share = graph.op("Clip", share, const(0.0), const(1.0))
    sides = graph.op("Add", as_float(graph.op("GreaterOrEqual", x3, const(lower))),
                     as_float(graph.op("Greater", x3, const(lower))))
    axis = graph.const([2], dtype=I64)
    sloping = graph.op("ReduceSum", graph.op("Mul", share, const(np.where(sloped, rise, 0))), axis, keepdims=0)
    stepping = graph.op("ReduceSum", graph.op("Mul", sides, const(np.where(sloped, 0, rise / 2))), axis, keepdims=0)
    p = graph.op("Add", sloping, stepping)
    above = graph.op("Greater", graph.op("Add", x, const(BOUNDS)), const(quantiles[-1]))
    below = graph.op("Less", graph.op("Sub", x, const(BOUNDS)), const(quantiles[0]))
    p = graph.op("Where", below, const(0.0), graph.op("Where", above, const(1.0), p))
    p = graph.op("Clip", p, const(CLIP), const(1 - CLIP))
    return graph.op("Where", missing, const(0.0), normal_quantile(graph, p))


def codes(graph: Any, v: str, levels: list[Any], missing: bool) -> str:
    """A categorical column's codes (n_samples, 1), float64, from its values v: a level's index, the missing
    level's code (len(levels)) for NaN where training saw missing values, else -1 (unknown)."""
    otherwise = graph.op("Where", graph.op("IsNaN", v), graph.const([[len(levels) if missing else -1]], dtype=F64),
                         graph.const([[-1.0]], dtype=F64))
    if not levels:
        return otherwise
    equal = graph.op("Cast", graph.op("Equal", v, graph.const([[float(level) for level in levels]], dtype=F64)),
                     to=graph.tensor_type(F64))  # (n, levels): one 1 at most
    index = graph.op("MatMul", equal, graph.const(np.arange(len(levels), dtype=F64)[:, None], dtype=F64))
    found = graph.op("Greater", graph.op("MatMul", equal, graph.const(np.ones((len(levels), 1)), dtype=F64)),
                     graph.const(0.5, dtype=F64))
    return graph.op("Where", found, index, otherwise)
