"""Row-major GEMM over the BLAS that SciPy ships (scipy.linalg.cython_blas), for float32 and float64, and the
sum of squares in a fixed order that the L2 penalty and the clipping norm take.

BLAS is column-major. A row-major (m, n) matrix C is the column-major (n, m) matrix C^T, and
C = op(A) op(B) is C^T = op(B)^T op(A)^T, so a row-major product is the column-major product of the
operands swapped, with the same transpose flags. No data is copied.
"""

from scipy.linalg.cython_blas cimport ddot, dgemm, sdot, sgemm


cdef void gemm(bint trans_a, bint trans_b, int m, int n, int k, floating alpha,
               const floating* a, int lda, const floating* b, int ldb,
               floating beta, floating* c, int ldc) noexcept nogil:
    """c_out (m, n) = alpha * op(a) @ op(b) + beta * c_out, all row-major.

    op(a) is (m, k): a is (m, k) with lda >= k, or (k, m) with lda >= m when trans_a.
    op(b) is (k, n): b is (k, n) with ldb >= n, or (n, k) with ldb >= k when trans_b.
    A dimension may be 0 (the first layer of a model whose columns are all categorical has no dense input):
    BLAS then writes c_out = beta * c_out, or nothing, provided every leading dimension is at least 1.
    """
    cdef char ta = b'T' if trans_a else b'N'
    cdef char tb = b'T' if trans_b else b'N'
    lda, ldb, ldc = max(lda, 1), max(ldb, 1), max(ldc, 1)
    if floating is float:
        sgemm(&tb, &ta, &n, &m, &k, &alpha, <float*> b, &ldb, <float*> a, &lda, &beta, c, &ldc)
    else:
        dgemm(&tb, &ta, &n, &m, &k, &alpha, <double*> b, &ldb, <double*> a, &lda, &beta, c, &ldc)


cdef floating dot(const floating* x, const floating* y, int n) noexcept nogil:
    """x . y over n entries (BLAS's, vectorized: a loop of one running sum waits for each addition)."""
    cdef int one = 1
    if floating is float:
        return sdot(&n, <float*> x, &one, <float*> y, &one)
    return ddot(&n, <double*> x, &one, <double*> y, &one)


cdef double sum_of_squares(const floating* w, Py_ssize_t n) noexcept nogil:
    """sum(w ** 2) accumulated in double, in a fixed order: eight running sums (entries i mod 8), added at the
    end. One running sum waits for each addition before the next, which made this 2.6% of a digits fit."""
    cdef Py_ssize_t i, j
    cdef double part[8]
    cdef double total = 0
    for j in range(8):
        part[j] = 0
    for i in range(0, n - n % 8, 8):
        for j in range(8):
            part[j] += <double> w[i + j] * w[i + j]
    for i in range(n - n % 8, n):
        part[i % 8] += <double> w[i] * w[i]
    for j in range(8):
        total += part[j]
    return total


def matmul(const floating[:, ::1] a, const floating[:, ::1] b, floating[:, ::1] c_out,
           bint trans_a=False, bint trans_b=False):
    """c_out = op(a) @ op(b) through `gemm`; exposed so tests can hold the wrapper to NumPy.

    Shapes are checked by the caller (tests only); `c_out` must be (m, n) for op(a) (m, k), op(b) (k, n).
    """
    cdef int m = a.shape[1] if trans_a else a.shape[0]
    cdef int k = a.shape[0] if trans_a else a.shape[1]
    cdef int n = b.shape[0] if trans_b else b.shape[1]
    if (b.shape[1] if trans_b else b.shape[0]) != k or c_out.shape[0] != m or c_out.shape[1] != n:
        raise ValueError("matmul: shapes of a, b and c_out do not agree")
    with nogil:
        gemm(trans_a, trans_b, m, n, k, <floating> 1, &a[0, 0], <int> a.shape[1], &b[0, 0],
             <int> b.shape[1], <floating> 0, &c_out[0, 0], <int> c_out.shape[1])


cdef extern from "_vecmath.h":
    void fastbp_vecmath_init() noexcept nogil
    void fastbp_column_sums_d(const double* a, Py_ssize_t n_rows, Py_ssize_t n_cols, Py_ssize_t lda,
                              double* sums) noexcept nogil
    void fastbp_column_sums_f(const float* a, Py_ssize_t n_rows, Py_ssize_t n_cols, Py_ssize_t lda,
                              float* sums) noexcept nogil
    void fastbp_add_scaled_d(double* y, const double* x, double a, Py_ssize_t n) noexcept nogil
    void fastbp_add_scaled_f(float* y, const float* x, float a, Py_ssize_t n) noexcept nogil


fastbp_vecmath_init()  # this module's copy of the CPU dispatch (each module that includes the header has one)


cdef void column_sums(const floating* a, Py_ssize_t n_rows, Py_ssize_t n_cols, Py_ssize_t lda,
                      floating* sums_out) noexcept nogil:
    """sums_out (n_cols,) <- column sums of the (n_rows, n_cols) block a (leading dimension lda), in row order
    (vectorized for the CPU, `_vecmath.h`)."""
    if floating is float:
        fastbp_column_sums_f(a, n_rows, n_cols, lda, sums_out)
    else:
        fastbp_column_sums_d(a, n_rows, n_cols, lda, sums_out)


cdef void add_scaled(floating* y, const floating* x, floating a, Py_ssize_t n) noexcept nogil:
    """y (n,) <- y + a x, a product and then a sum in every CPU's copy (`_vecmath.h`), never a fused one."""
    if floating is float:
        fastbp_add_scaled_f(y, x, a, n)
    else:
        fastbp_add_scaled_d(y, x, a, n)


cdef void scaled_copy(const floating* w, floating scale, Py_ssize_t n_rows, Py_ssize_t n_cols, Py_ssize_t ld,
                      floating* out) noexcept nogil:
    """out <- scale * w over an (n_rows, n_cols) block with leading dimension ld."""
    cdef Py_ssize_t i, j
    for i in range(n_rows):
        for j in range(n_cols):
            out[i * ld + j] = scale * w[i * ld + j]
