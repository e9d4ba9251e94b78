from cython cimport floating
from libc.math cimport exp, expf, fabs, tanh

# Hidden activations. Each forward sits beside its derivative, and the derivative is written in terms of
# the activation's *output* a = f(z), which is what the backward pass keeps (no second buffer for z).
cdef enum Activation:
    IDENTITY = 0    # f(z) = z          f' = 1
    LOGISTIC = 1    # f(z) = 1/(1+e^-z) f' = a (1 - a)
    TANH = 2        # f(z) = tanh z     f' = 1 - a^2
    RELU = 3        # f(z) = max(z, 0)  f' = [a > 0]


cdef inline double sigmoid(double z) noexcept nogil:
    # Branch on the sign so exp() never overflows: for z < 0 use e^z / (1 + e^z).
    cdef double e
    if z >= 0:
        return 1.0 / (1.0 + exp(-z))
    e = exp(z)
    return e / (1.0 + e)


cdef inline floating activate(Activation act, floating z) noexcept nogil:
    if act == LOGISTIC:
        return <floating> sigmoid(z)
    if act == TANH:
        return <floating> tanh(z)
    if act == RELU:
        # Not `z > 0`, which is false for NaN: NaN must stay NaN, as in max(z, 0). Negative z give +0, and
        # the select stays branch-free, so the loops over it vectorize.
        return z if not z <= 0 else 0
    return z


cdef inline floating derivative(Activation act, floating a) noexcept nogil:
    if act == LOGISTIC:
        return a * (1 - a)
    if act == TANH:
        return 1 - a * a
    if act == RELU:
        return 1 if a > 0 else 0
    return 1


cdef void bias_activation(Activation act, floating* z, const floating* bias, Py_ssize_t n_rows,
                          Py_ssize_t n_cols, Py_ssize_t ld) noexcept nogil

cdef void mul_derivative(Activation act, floating* delta, const floating* a, Py_ssize_t n_rows,
                         Py_ssize_t n_cols, Py_ssize_t ld) noexcept nogil

cdef void exp_sweep(double* x, Py_ssize_t n) noexcept nogil
