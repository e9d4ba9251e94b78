"""Elementwise passes of the hidden layers, in place over a row-major (n_rows, n_cols) block.

The forward pass fuses the bias into the activation (one sweep over the GEMM output); the backward pass
multiplies the back-propagated delta by f'(a). These run serially on the block of rows they are given:
`_network` decides how blocks are spread over threads.
"""


cdef extern from "_vecmath.h":
    void fastbp_vecmath_init() noexcept nogil
    int fastbp_vecmath_avx2() noexcept nogil
    void fastbp_vecmath_allow_avx2(int allow) noexcept nogil
    void fastbp_exp_nonpositive_d(double* x, Py_ssize_t n) noexcept nogil
    void fastbp_exp_nonpositive_f(float* x, Py_ssize_t n) noexcept nogil

fastbp_vecmath_init()


def vecmath_avx2(allow=None):
    """True when the vectorized exp runs its AVX2 + FMA copy on this CPU.

    allow=False makes it run the portable copy, allow=True returns to the CPU's choice (for tests; not
    while the core runs in another thread).
    """
    if allow is not None:
        fastbp_vecmath_allow_avx2(bool(allow))
    return bool(fastbp_vecmath_avx2())


def exp_nonpositive(floating[::1] x):
    """x <- exp(x) in place, for a 1-D array with every entry <= 0: the exp the logistic layers use."""
    if x.shape[0]:
        with nogil:
            exp_nonpositive_inplace(&x[0], x.shape[0])


cdef inline void exp_nonpositive_inplace(floating* x, Py_ssize_t n) noexcept nogil:
    if floating is float:
        fastbp_exp_nonpositive_f(x, n)
    else:
        fastbp_exp_nonpositive_d(x, n)


cdef enum:
    CHUNK = 256   # columns per sweep of `bias_sigmoid`: its exp() scratch lives on the stack


cdef void bias_sigmoid(floating* z, const floating* bias, Py_ssize_t n_rows, Py_ssize_t n_cols,
                       Py_ssize_t ld) noexcept nogil:
    """z <- sigmoid(z + bias), in `sigmoid`'s stable form, in three sweeps per chunk of a row.

    The first and last sweeps have no calls and no branches, so the compiler vectorizes them; the middle
    one is the vectorized exp of `_vecmath.h`. (One fused loop branches on the sign of z, which is random,
    and mispredicts.)
    """
    cdef floating e[CHUNK]
    cdef Py_ssize_t i, j, start, count
    cdef floating* row
    for i in range(n_rows):
        start = 0
        while start < n_cols:
            row = z + i * ld + start
            count = min(<Py_ssize_t> CHUNK, n_cols - start)
            for j in range(count):
                row[j] = row[j] + bias[start + j]
                e[j] = -fabs(row[j])
            exp_nonpositive_inplace(e, count)
            for j in range(count):
                row[j] = (1 if row[j] >= 0 else e[j]) / (1 + e[j])
            start += count


cdef void bias_activation(Activation act, floating* z, const floating* bias, Py_ssize_t n_rows,
                          Py_ssize_t n_cols, Py_ssize_t ld) noexcept nogil:
    """z (n_rows, n_cols), leading dimension ld, <- f(z + bias), bias (n_cols,)."""
    cdef Py_ssize_t i, j
    cdef floating* row
    if act == LOGISTIC:
        bias_sigmoid(z, bias, n_rows, n_cols, ld)
        return
    for i in range(n_rows):
        row = z + i * ld
        for j in range(n_cols):
            row[j] = activate(act, row[j] + bias[j])


cdef void mul_derivative(Activation act, floating* delta, const floating* a, Py_ssize_t n_rows,
                         Py_ssize_t n_cols, Py_ssize_t ld) noexcept nogil:
    """delta (n_rows, n_cols) <- delta * f'(a), a the activation output of the same shape; both with
    leading dimension ld.

    One loop per activation with no call or branch inside, so the compiler vectorizes each (a shared loop
    over `derivative` was not). ReLU keeps delta where a > 0 and sets +0 elsewhere, as scikit-learn does.
    """
    cdef Py_ssize_t i, j
    cdef floating* d
    cdef const floating* x
    if act == IDENTITY:
        return
    for i in range(n_rows):
        d = delta + i * ld
        x = a + i * ld
        if act == LOGISTIC:
            for j in range(n_cols):
                d[j] = d[j] * (x[j] * (1 - x[j]))
        elif act == TANH:
            for j in range(n_cols):
                d[j] = d[j] * (1 - x[j] * x[j])
        else:
            for j in range(n_cols):
                d[j] = d[j] if x[j] > 0 else 0
