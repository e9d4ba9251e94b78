from cython cimport floating

cdef void sgd_step(floating* params, const floating* grad, floating* velocity, Py_ssize_t n,
                   floating learning_rate, floating momentum, bint nesterov) noexcept nogil

cdef void adam_step(floating* params, const floating* grad, floating* m, floating* v, Py_ssize_t n,
                    double step_size, floating beta_1, floating one_minus_beta_1, floating beta_2,
                    floating one_minus_beta_2, floating epsilon) noexcept nogil
