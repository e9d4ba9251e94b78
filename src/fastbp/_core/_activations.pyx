"""Elementwise passes of the hidden layers, in place over a row-major (n_rows, n_cols) block.

The forward pass fuses the bias into the activation (one sweep over the GEMM output); the backward pass
multiplies the back-propagated delta by f'(a). These run serially on the block of rows they are given:
`_network` decides how blocks are spread over threads.
"""


cdef extern from "_vecmath.h":
    void fastbp_vecmath_init() noexcept nogil
    int fastbp_vecmath_level() noexcept nogil
    int fastbp_vecmath_best_level() noexcept nogil
    void fastbp_vecmath_set_level(int level) noexcept nogil
    void fastbp_exp_nonpositive_d(double* x, Py_ssize_t n) noexcept nogil
    void fastbp_exp_nonpositive_f(float* x, Py_ssize_t n) noexcept nogil
    void fastbp_bias_sigmoid_d(double* z, const double* bias, Py_ssize_t n_rows, Py_ssize_t n_cols,
                               Py_ssize_t ld) noexcept nogil
    void fastbp_bias_sigmoid_f(float* z, const float* bias, Py_ssize_t n_rows, Py_ssize_t n_cols,
                               Py_ssize_t ld) noexcept nogil

fastbp_vecmath_init()

# The activation table's codes by name, for the Python layer (which validates names, never codes).
ACTIVATIONS = {"identity": IDENTITY, "logistic": LOGISTIC, "tanh": TANH, "relu": RELU}

# The copies of the vectorized exp, narrowest first (the levels of `_vecmath.h`).
VECMATH_PATHS = ("portable", "avx2", "avx512")


def vecmath_path(path=None):
    """The copy of the vectorized exp in use: "portable", "avx2" (AVX2 + FMA) or "avx512".

    Given a path, use it, or the widest one this CPU runs if that is narrower (for tests; not while the
    core runs in another thread).
    """
    if path is not None:
        fastbp_vecmath_set_level(VECMATH_PATHS.index(path))
    return VECMATH_PATHS[fastbp_vecmath_level()]


def vecmath_paths():
    """Every copy of the vectorized exp this CPU runs, narrowest first."""
    return VECMATH_PATHS[:fastbp_vecmath_best_level() + 1]


def exp_nonpositive(floating[::1] x):
    """x <- exp(x) in place, for a 1-D array with every entry <= 0: the exp the logistic layers use."""
    if x.shape[0]:
        with nogil:
            exp_nonpositive_inplace(&x[0], x.shape[0])


cdef void exp_sweep(double* x, Py_ssize_t n) noexcept nogil:
    """x <- exp(x) over n entries, each <= 0, with the vectorized exp (for the softmax of `_losses`)."""
    fastbp_exp_nonpositive_d(x, n)


cdef inline void exp_nonpositive_inplace(floating* x, Py_ssize_t n) noexcept nogil:
    if floating is float:
        fastbp_exp_nonpositive_f(x, n)
    else:
        fastbp_exp_nonpositive_d(x, n)


cdef void bias_activation(Activation act, floating* z, const floating* bias, Py_ssize_t n_rows,
                          Py_ssize_t n_cols, Py_ssize_t ld) noexcept nogil:
    """z (n_rows, n_cols), leading dimension ld, <- f(z + bias), bias (n_cols,)."""
    cdef Py_ssize_t i, j
    cdef floating* row
    if act == LOGISTIC:  # vectorized, in `_vecmath.h`
        if floating is float:
            fastbp_bias_sigmoid_f(z, bias, n_rows, n_cols, ld)
        else:
            fastbp_bias_sigmoid_d(z, bias, n_rows, n_cols, ld)
        return
    # One loop per activation, so that each inlines to a branch-free body the compiler vectorizes.
    for i in range(n_rows):
        row = z + i * ld
        if act == RELU:
            for j in range(n_cols):
                row[j] = activate(RELU, row[j] + bias[j])
        elif act == TANH:
            for j in range(n_cols):
                row[j] = activate(TANH, row[j] + bias[j])
        else:
            for j in range(n_cols):
                row[j] = row[j] + bias[j]


cdef enum:
    RELU_CHUNK = 256   # columns per sweep of relu's `mul_derivative`: its 0/1 factors live on the stack


cdef void mul_derivative(Activation act, floating* delta, const floating* a, Py_ssize_t n_rows,
                         Py_ssize_t n_cols, Py_ssize_t ld) noexcept nogil:
    """delta (n_rows, n_cols) <- delta * f'(a), a the activation output of the same shape; both with
    leading dimension ld.

    One loop per activation with no call or branch inside, so the compiler vectorizes each (a shared loop
    over `derivative` was not). ReLU multiplies by its 0/1 derivative, as the reference does, so a NaN or
    infinite delta gives NaN where a <= 0 (choosing between delta and 0 would drop it). The 0/1 factors go
    through a scratch row first: GCC does not vectorize a select whose other side is arithmetic.
    """
    cdef floating factor[RELU_CHUNK]
    cdef Py_ssize_t i, j, start, count
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
            start = 0
            while start < n_cols:
                count = min(<Py_ssize_t> RELU_CHUNK, n_cols - start)
                for j in range(count):
                    factor[j] = 1 if x[start + j] > 0 else 0
                for j in range(count):
                    d[start + j] = d[start + j] * factor[j]
                start += count
