from cython cimport floating
from libc.math cimport exp, expm1, log1p, tanh

from fastbp._core._masks cimport MaskBlock

# The hidden activations, with PyTorch's definitions and default constants. Each forward sits beside its
# derivative. The first ones take their derivative from the activation's output a = f(z), which the backward
# pass keeps anyway; the others (softplus, gelu, gelu_tanh, silu, mish) need z, so a training pass computes
# their f'(z) in the forward pass (`activation_block`, the layer's "factor") and keeps that instead, only for
# the layers that need it. So does a layer with dropout, whose factor includes the mask, except ReLU's: a
# dropped unit's a is 0, so [a > 0] times the kept units' scale is its factor, computed from a (`needs_factor`).
cdef enum Activation:
    IDENTITY = 0    # f(z) = z                               f' = 1
    LOGISTIC = 1    # f(z) = 1 / (1 + e^-z)                  f' = a (1 - a)
    TANH = 2        # f(z) = tanh z                          f' = 1 - a^2
    RELU = 3        # f(z) = max(z, 0)                       f' = [a > 0]
    LEAKY_RELU = 4  # f(z) = z, or 0.01 z for z <= 0         f' = 1, or 0.01 for a <= 0
    ELU = 5         # f(z) = z, or e^z - 1 for z <= 0        f' = 1, or a + 1
    SELU = 6        # f(z) = s z, or s A (e^z - 1)           f' = s, or a + s A
    SOFTPLUS = 7    # f(z) = log(1 + e^z), z above 20        f'(z) = sigmoid(z), 1 above 20
    GELU = 8        # f(z) = z Phi(z), Phi by erf            f'(z) = Phi(z) + z phi(z)
    GELU_TANH = 9   # f(z) = z (1 + tanh u) / 2              f'(z) = (1 + tanh u) / 2 + z (1 - tanh^2 u) u' / 2
    SILU = 10       # f(z) = z sigmoid(z)                    f'(z) = s (1 + z (1 - s)), s = sigmoid(z)
    MISH = 11       # f(z) = z tanh(softplus(z))             f'(z) = t + z sigmoid(z) (1 - t^2), t = tanh(softplus z)

cdef enum:
    # Activations below this code take f' from their output; the others from z.
    FIRST_FROM_Z = 7

# PyTorch's constants: leaky_relu's negative slope, selu's alpha and scale (Klambauer et al. 2017), softplus's
# threshold (beta 1), gelu_tanh's cubic coefficient and sqrt(2 / pi). (GELU's own are in `_vecmath.h`.)
cdef extern from *:
    """
    #define FASTBP_LEAKY_SLOPE 0.01
    #define FASTBP_SELU_ALPHA 1.6732632423543772848170429916717
    #define FASTBP_SELU_SCALE 1.0507009873554804934193349852946
    #define FASTBP_SOFTPLUS_THRESHOLD 20.0
    #define FASTBP_GELU_KAPPA 0.044715
    #define FASTBP_SQRT_2_OVER_PI 0.79788456080286535587989211986876
    """
    const double LEAKY_SLOPE "FASTBP_LEAKY_SLOPE"
    const double SELU_ALPHA "FASTBP_SELU_ALPHA"
    const double SELU_SCALE "FASTBP_SELU_SCALE"
    const double SOFTPLUS_THRESHOLD "FASTBP_SOFTPLUS_THRESHOLD"
    const double GELU_KAPPA "FASTBP_GELU_KAPPA"
    const double SQRT_2_OVER_PI "FASTBP_SQRT_2_OVER_PI"


cdef inline double sigmoid(double z) noexcept nogil:
    # Branch on the sign so exp() never overflows: for z < 0 use e^z / (1 + e^z).
    cdef double e
    if z >= 0:
        return 1.0 / (1.0 + exp(-z))
    e = exp(z)
    return e / (1.0 + e)


cdef inline bint from_output(Activation act) noexcept nogil:
    return act < FIRST_FROM_Z


cdef inline double activate_pair(Activation act, double z, double* derivative_out) noexcept nogil:
    """f(z) of the activations that need z, with f'(z) into derivative_out, sharing their transcendental
    functions. GELU is not here: `_vecmath.h` computes it, vectorized (`bias_activation`, `activation_block`)."""
    cdef double s, t, u
    if act == SOFTPLUS:
        if z > SOFTPLUS_THRESHOLD:
            derivative_out[0] = 1.0
            return z
        derivative_out[0] = sigmoid(z)
        return log1p(exp(z))
    if act == GELU_TANH:
        u = SQRT_2_OVER_PI * (z + GELU_KAPPA * z * z * z)
        t = tanh(u)
        derivative_out[0] = 0.5 * (1 + t) + 0.5 * z * (1 - t * t) * SQRT_2_OVER_PI * (1 + 3 * GELU_KAPPA * z * z)
        return 0.5 * z * (1 + t)
    if act == SILU:
        s = sigmoid(z)
        derivative_out[0] = s * (1 + z * (1 - s))
        return z * s
    if act == MISH:
        t = tanh(log1p(exp(z)))
        derivative_out[0] = t + z * sigmoid(z) * (1 - t * t)
        return z * t
    derivative_out[0] = 1
    return z


cdef inline double activate_z(Activation act, double z) noexcept nogil:
    """f(z) of the activations that need z (the derivative, unused, is left out by the compiler)."""
    cdef double unused
    return activate_pair(act, z, &unused)


cdef inline floating activate(Activation act, floating z) noexcept nogil:
    if act == LOGISTIC:
        return <floating> sigmoid(z)
    if act == TANH:
        return <floating> tanh(z)
    if act == RELU:
        # Not `z > 0`, which is false for NaN: NaN must stay NaN, as in max(z, 0). Negative z give +0, and
        # the select stays branch-free, so the loops over it vectorize.
        return z if not z <= 0 else 0
    if act == LEAKY_RELU:
        return z if z > 0 else <floating> (LEAKY_SLOPE * z)
    if act == ELU:
        return z if z > 0 else <floating> expm1(z)
    if act == SELU:
        return <floating> (SELU_SCALE * z if z > 0 else SELU_SCALE * SELU_ALPHA * expm1(z))
    if act >= FIRST_FROM_Z:
        return <floating> activate_z(act, z)
    return z


cdef inline floating derivative(Activation act, floating a) noexcept nogil:
    """f' from the output a = f(z), for the activations before FIRST_FROM_Z."""
    if act == LOGISTIC:
        return a * (1 - a)
    if act == TANH:
        return 1 - a * a
    if act == RELU:
        return 1 if a > 0 else 0
    if act == LEAKY_RELU:
        return 1 if a > 0 else <floating> LEAKY_SLOPE
    if act == ELU:
        return 1 if a > 0 else a + 1
    if act == SELU:
        return <floating> SELU_SCALE if a > 0 else <floating> (a + SELU_SCALE * SELU_ALPHA)
    return 1


cdef void bias_activation(Activation act, floating* z, const floating* bias, Py_ssize_t n_rows,
                          Py_ssize_t n_cols, Py_ssize_t ld) noexcept nogil

cdef void activation_block(Activation act, floating* z, const floating* bias, Py_ssize_t n_rows, Py_ssize_t n_cols,
                           Py_ssize_t ld, const MaskBlock* mask, floating* factor_out) noexcept nogil

cdef void mul_derivative(Activation act, floating* delta, const floating* a, Py_ssize_t n_rows,
                         Py_ssize_t n_cols, Py_ssize_t ld, double kept_scale) noexcept nogil

cdef void mul_factor(floating* delta, const floating* factor, Py_ssize_t n_rows, Py_ssize_t n_cols,
                     Py_ssize_t ld) noexcept nogil

cdef void exp_sweep(double* x, Py_ssize_t n) noexcept nogil
