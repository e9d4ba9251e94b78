from cython cimport floating
from libc.math cimport pow, sqrt


cdef inline double adam_step_size(double learning_rate, long long t, double beta_1, double beta_2) noexcept nogil:
    # Adam's bias correction folded into the step size of step t >= 1, in double as scikit-learn has it.
    return learning_rate * sqrt(1 - pow(beta_2, <double> t)) / (1 - pow(beta_1, <double> t))


cdef void sgd_step(floating* params, const floating* grad, floating* velocity, Py_ssize_t n,
                   floating learning_rate, floating momentum, bint nesterov) noexcept nogil

cdef void adam_step(floating* params, const floating* grad, floating* m, floating* v, Py_ssize_t n,
                    double step_size, floating beta_1, floating one_minus_beta_1, floating beta_2,
                    floating one_minus_beta_2, floating epsilon) noexcept nogil
