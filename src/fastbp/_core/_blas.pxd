from cython cimport floating

cdef void gemm(bint trans_a, bint trans_b, int m, int n, int k, floating alpha,
               const floating* a, int lda, const floating* b, int ldb,
               floating beta, floating* c, int ldc) noexcept nogil

cdef floating dot(const floating* x, const floating* y, int n) noexcept nogil

cdef double sum_of_squares(const floating* w, Py_ssize_t n) noexcept nogil

cdef void column_sums(const floating* a, Py_ssize_t n_rows, Py_ssize_t n_cols, Py_ssize_t lda,
                      floating* sums_out) noexcept nogil

# y (n,) <- y + a x: each entry a product and then a sum, the same bits in every CPU's copy.
cdef void add_scaled(floating* y, const floating* x, floating a, Py_ssize_t n) noexcept nogil

cdef void scaled_copy(const floating* w, floating scale, Py_ssize_t n_rows, Py_ssize_t n_cols, Py_ssize_t ld,
                      floating* out) noexcept nogil
