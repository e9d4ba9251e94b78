"""Read-only, Fortran-ordered, strided and foreign-dtype inputs give the results of C-contiguous ones."""

import numpy as np
import pytest

import fastbp


def layouts(A):
    read_only = A.copy()
    read_only.flags.writeable = False
    wide = np.zeros((A.shape[0] * 2, A.shape[1] * 3), dtype=A.dtype)
    wide[::2, ::3] = A
    return {
        "read-only": read_only,
        "fortran": np.asfortranarray(A),
        "strided": wide[::2, ::3],
        "reversed": A[::-1][::-1],
        "other dtype": A.astype(np.float64) if A.dtype == np.float32 else A.astype(np.longdouble),
        "list": A.tolist(),
    }


@pytest.mark.parametrize("layout", ["read-only", "fortran", "strided", "reversed", "other dtype", "list"])
def test_input_layout_does_not_change_results(layout, dtype, rng):
    net = fastbp.MLP([6, 5, 2], "tanh", "logistic", dtype=dtype, random_state=0)
    X = rng.randn(11, 6).astype(dtype)
    Y = rng.rand(11, 2).astype(dtype)
    sw = rng.rand(11).astype(dtype)
    expected_out = net.forward(X)
    expected_loss, expected_grad = net.loss_and_grad(X, Y, sw)

    X2, Y2 = layouts(X)[layout], layouts(Y)[layout]
    sw2 = np.repeat(sw, 2)[::2]  # a strided view
    np.testing.assert_array_equal(net.forward(X2), expected_out)
    loss, grad = net.loss_and_grad(X2, Y2, sw2)
    assert loss == expected_loss
    np.testing.assert_array_equal(grad, expected_grad)


def test_inputs_are_not_modified(rng):
    net = fastbp.MLP([3, 4, 1], random_state=0)
    X, Y = rng.randn(5, 3), rng.rand(5, 1)
    X0, Y0 = X.copy(), Y.copy()
    net.loss_and_grad(X, Y)
    np.testing.assert_array_equal(X, X0)
    np.testing.assert_array_equal(Y, Y0)
