"""Elementwise passes of the hidden layers, in place over a row-major (n_rows, n_cols) block.

The forward pass fuses the bias into the activation (one sweep over the GEMM output); the backward pass
multiplies the back-propagated delta by f'(a). These run serially on the block of rows they are given:
`_network` decides how blocks are spread over threads.
"""


cdef void bias_activation(Activation act, floating* z, const floating* bias,
                          Py_ssize_t n_rows, Py_ssize_t n_cols) noexcept nogil:
    """z (n_rows, n_cols) <- f(z + bias), bias (n_cols,)."""
    cdef Py_ssize_t i, j
    cdef floating* row
    for i in range(n_rows):
        row = z + i * n_cols
        for j in range(n_cols):
            row[j] = activate(act, row[j] + bias[j])


cdef void mul_derivative(Activation act, floating* delta, const floating* a,
                         Py_ssize_t n_rows, Py_ssize_t n_cols) noexcept nogil:
    """delta (n_rows, n_cols) <- delta * f'(a), a the activation output of the same shape."""
    cdef Py_ssize_t i
    if act == IDENTITY:
        return
    for i in range(n_rows * n_cols):
        delta[i] = delta[i] * derivative(act, a[i])
