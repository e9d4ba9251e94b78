"""The error-bound oracle: how far a correct implementation of forward, loss and gradient can be from the exact
values, entry by entry (`error_bounds`), and the comparison that holds two implementations to it
(`assert_close`). Independent of the code under test: a running error analysis in float64 NumPy."""

import numpy as np
import scipy.sparse

from fastbp import reference

# Elementwise functions (exp, tanh, the logistic, log1p) err by a few units in the last place in libm, NumPy's
# SIMD loops and the core's vectorized exp; this many units of roundoff bound each, with what surrounds it.
FUNCTION_ULPS = 8
# Below the smallest normal number relative precision ends: one rounding there errs by up to that number
# in absolute terms. A few such errors, summed over rows and units and scaled by weights of order one,
# stay below this many smallest normals.
UNDERFLOW_FLOOR = 2.0**10


def unit_roundoff(dtype):
    return np.finfo(dtype).eps / 2


def assert_close(actual, desired, dtype, err_msg="", error_bound=0.0):
    """|actual - desired| <= 2 u error_bound + an underflow floor, elementwise, u the unit roundoff of dtype.

    `error_bound` bounds how far one correct implementation can be from the exact value, in units of u (see
    `error_bounds`); two of them can be twice that far apart."""
    u = unit_roundoff(dtype)
    actual = np.asarray(actual, dtype=np.float64)
    desired = np.asarray(desired, dtype=np.float64)
    bound = 2 * u * np.asarray(error_bound, dtype=np.float64) + UNDERFLOW_FLOOR * np.finfo(dtype).tiny
    excess = np.abs(actual - desired) - bound
    assert actual.shape == desired.shape, f"{err_msg}: shapes {actual.shape} != {desired.shape}"
    assert (excess <= 0).all(), (
        f"{err_msg}: {int((excess > 0).sum())} entries differ by more than their error bound; worst at "
        f"{np.unravel_index(np.argmax(excess), excess.shape)}: {actual.flat[np.argmax(excess)]!r} vs "
        f"{desired.flat[np.argmax(excess)]!r}, bound {bound.flat[np.argmax(excess)]!r}")


def _largest_slope(activation, z, r):
    """max |f'| over [z - r, z + r]: how much an error of at most r in z can move f(z), per unit of error.

    logistic' and tanh' fall with |z|: a saturated unit passes on almost none of its input's error, however
    large the input (its output is bounded by the activation's range)."""
    if activation in ("logistic", "tanh"):
        nearest = np.maximum(np.abs(z) - r, 0.0)  # the point of the interval closest to 0
        return reference.DERIVATIVES[activation](reference.ACTIVATIONS[activation](nearest))
    if activation == "relu":
        return (z + r > 0).astype(float)
    return np.ones_like(z)


def _output_error(output, z, y_hat, E_z, u):
    """Error of y_hat = g(z) in units of u: g's own rounding, and the error E_z of the logits passed on."""
    r = 2 * u * E_z  # how far an implementation's logits can be from these
    if output == "identity":
        return E_z
    if output == "logistic":
        return FUNCTION_ULPS * np.abs(y_hat) + _largest_slope("logistic", z, r) * E_z
    if output == "exp":
        return FUNCTION_ULPS * np.abs(y_hat) + np.exp(z + r) * E_z
    # softmax: moving each logit by at most r moves every exponent difference by at most 2r, so y_k by at
    # most y_k (e^(2r) - 1) <= 2 r y_k e^(2r), r the row's largest; never more than 1 (a probability).
    r_max = r.max(axis=1, keepdims=True)
    moved = 2 * y_hat * E_z.max(axis=1, keepdims=True) * np.exp(np.minimum(2 * r_max, 700.0))
    return (FUNCTION_ULPS + z.shape[1]) * np.abs(y_hat) + np.minimum(moved, 1 / u)


def _loss_terms(output, z, y_hat, Y):
    """Per sample and output, the magnitudes of the terms of the loss formula (each rounded a few times)."""
    if output == "logistic":  # softplus(z) - y z
        return np.abs(z) + 1 + np.abs(Y * z)
    if output == "softmax":  # y (logsumexp(z) - z), logsumexp as max + log(sum of exp)
        z_max = np.abs(z).max(axis=1, keepdims=True)
        return Y * (2 * z_max + np.log(z.shape[1]) + 1 + np.abs(z))
    if output == "exp":  # exp(z) - y z + y log y - y
        return np.abs(y_hat) + np.abs(Y * z) + np.abs(reference.xlogy(Y, Y)) + np.abs(Y)
    d = z - Y  # (y - z)^2 / 2
    return np.abs(d) * (np.abs(Y) + np.abs(z)) + d**2


def _slope_error(activation, a, E_a, z, E_z, u):
    """Error of f'(a), computed from an activation a with error E_a, in units of u."""
    if activation == "tanh":  # 1 - a^2
        return (2 * np.abs(a) + u * E_a) * E_a + 2 * (1 + a**2)
    if activation == "logistic":  # a (1 - a)
        return (np.abs(1 - 2 * a) + u * E_a) * E_a + 2 * np.abs(a) * (1 + np.abs(a))
    if activation == "relu":  # [a > 0] can differ by 1 where z is within its error of 0
        return np.where(np.abs(z) <= 2 * u * E_z, 1 / u, 0.0)
    return np.zeros_like(a)


def _finite_or_inf(E):
    return np.nan_to_num(E, nan=np.inf)  # 0 * inf: no terms times an unbounded error; keep it unbounded


def _input_terms(X, dtype, n_features):
    """(|X|, its input error in units of u, terms per row, terms per column) of the first layer's sums: for a
    sparse X see `error_bounds`; a dense X has n_features terms per row, n_samples per column, no error."""
    if not scipy.sparse.issparse(X):
        X_abs = np.abs(np.asarray(X, dtype=dtype).astype(np.float64))
        return X_abs, np.zeros_like(X_abs), n_features, X_abs.shape[0]
    X = scipy.sparse.csr_matrix(X).astype(dtype).astype(np.float64)
    # Each stored entry is a term of the sums, duplicates included: |8| and |-8| at one position are 16 of
    # magnitude, not |0| (scipy's abs() would add the duplicates up first).
    X_abs, counts = X.copy(), X.copy()
    X_abs.data, counts.data = np.abs(X_abs.data), np.ones_like(counts.data)
    X_abs, counts = X_abs.toarray(), counts.toarray()
    row_terms = max(n_features, int(counts.sum(axis=1).max()))
    column_terms = max(X.shape[0], int(counts.sum(axis=0).max()))
    return X_abs, np.maximum(counts - 1, 0) * X_abs, row_terms, column_terms


def error_bounds(net, X, Y, sample_weight=None, alpha=0.0):
    """How far one correct implementation of forward, loss and gradient can be from the exact values, entry
    by entry, in units of the model dtype's roundoff u: (forward, loss, gradient) bounds for `assert_close`.

    A running error analysis alongside the forward and backward passes (first order, with the
    nonlinearities' slopes taken at their worst over each error interval). A sum of n terms errs by at most
    n u times the sum of its terms' magnitudes (|a|^T |b| for a dot product), whatever its order and
    however much the result cancels; an input error E reaches a layer's output as E |W|; an activation
    passes an error e in z on scaled by its largest slope within e of z, so saturated logistic and tanh
    units pass on almost none (their output is bounded by their range at any input size), relu and
    identity all of it; elementwise functions add FUNCTION_ULPS of rounding. The backward pass carries the
    errors of the deltas and of the activations and slopes they multiply.

    For a sparse X the first layer's sums run over its stored entries, duplicates (which add up) included:
    their terms are the entries' magnitudes and their number the most entries a row (forward) or a column
    (weight gradient) holds. The dense matrix such an X stands for adds its duplicates up once more
    (`toarray`): an input error of up to their count times their magnitudes.
    """
    dtype = np.dtype(net.dtype)
    u = unit_roundoff(dtype)
    F = FUNCTION_ULPS
    # What both backends compute from: the inputs in the model's dtype.
    X_abs, input_error, row_terms, column_terms = _input_terms(X, dtype, net.n_features)
    X = X.astype(dtype).toarray() if scipy.sparse.issparse(X) else np.asarray(X, dtype=dtype)
    X = X.astype(np.float64)
    Y = np.asarray(Y, dtype=dtype).astype(np.float64).reshape(X.shape[0], -1)
    w = np.ones(X.shape[0]) if sample_weight is None else np.asarray(sample_weight, dtype=dtype).astype(np.float64)
    n, S = X.shape[0], w.sum()
    coefs = [W.astype(np.float64) for W in net.coefs]
    intercepts = [b.astype(np.float64) for b in net.intercepts]
    with np.errstate(all="ignore"):
        acts, act_errors, logits, logit_errors = [X], [input_error], [], []
        for l, (W, b) in enumerate(zip(coefs, intercepts)):
            a, a_abs, n_terms = acts[-1], X_abs if l == 0 else np.abs(acts[-1]), row_terms if l == 0 else W.shape[0]
            z = a @ W + b
            E_z = _finite_or_inf((n_terms + 1) * (a_abs @ np.abs(W) + np.abs(b)) + act_errors[-1] @ np.abs(W))
            logits.append(z)
            logit_errors.append(E_z)
            if l < len(coefs) - 1:
                a = reference.ACTIVATIONS[net.activation](z)
                own = F * np.abs(a) if net.activation in ("logistic", "tanh") else 0.0
                acts.append(a)
                act_errors.append(_finite_or_inf(own + _largest_slope(net.activation, z, 2 * u * E_z) * E_z))
        z, E_z = logits[-1], logit_errors[-1]
        y_hat = reference.OUTPUTS[net.output](z)
        E_y = _finite_or_inf(_output_error(net.output, z, y_hat, E_z, u))

        # dL/dz = y_hat - y: an error E_z in z moves a sample's loss by about |y_hat - y| E_z.
        K = Y.shape[1]
        per_sample = ((F + K + n + 2) * _loss_terms(net.output, z, y_hat, Y)
                      + (np.abs(y_hat - Y) + 2 * u * E_y) * E_z).sum(axis=1)
        penalty = 0.5 * alpha * sum((W**2).sum() for W in coefs) / S
        loss_bound = _finite_or_inf(np.dot(w, per_sample) / S + penalty)

        delta = (y_hat - Y) * (w / S)[:, None]
        E_delta = _finite_or_inf((E_y + 3 * (np.abs(y_hat) + np.abs(Y))) * (w / S)[:, None])
        coef_bounds, intercept_bounds = [None] * len(coefs), [None] * len(coefs)
        for l in range(len(coefs) - 1, -1, -1):
            a, E_a, W = acts[l], act_errors[l], coefs[l]
            a_abs, n_terms = (X_abs, column_terms) if l == 0 else (np.abs(a), n)
            coef_bounds[l] = _finite_or_inf(a_abs.T @ E_delta + E_a.T @ (np.abs(delta) + 2 * u * E_delta)
                                            + (n_terms + 2) * (a_abs.T @ np.abs(delta) + alpha / S * np.abs(W)))
            intercept_bounds[l] = E_delta.sum(axis=0) + n * np.abs(delta).sum(axis=0)
            if l > 0:
                back = delta @ W.T
                E_back = E_delta @ np.abs(W).T + W.shape[1] * (np.abs(delta) @ np.abs(W).T)
                slope = reference.DERIVATIVES[net.activation](a)
                E_slope = _slope_error(net.activation, a, E_a, logits[l - 1], logit_errors[l - 1], u)
                delta = back * slope
                E_delta = _finite_or_inf(E_back * (np.abs(slope) + 2 * u * E_slope) + np.abs(back) * E_slope
                                         + np.abs(delta))
        grad_bound = np.concatenate([g.ravel() for g in coef_bounds + intercept_bounds])
    return E_y, loss_bound, grad_bound
