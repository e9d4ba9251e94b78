from cython cimport floating

# Output layers, named as scikit-learn's `out_activation_`, each with its loss. For every pair the
# gradient of the loss at the logit z is y_hat - y, which is what makes the backward pass uniform.
cdef enum Output:
    OUT_IDENTITY = 0   # y_hat = z,          L = 1/2 sum_k (y_k - z_k)^2
    OUT_LOGISTIC = 1   # y_hat = sigmoid(z), L = sum_k softplus(z_k) - y_k z_k   (binary cross-entropy)
    OUT_SOFTMAX = 2    # y_hat = softmax(z), L = logsumexp(z) sum_k y_k - sum_k y_k z_k
    OUT_EXP = 3        # y_hat = exp(z),     L = sum_k exp(z_k) - y_k z_k + y_k log y_k - y_k  (half Poisson deviance)


cdef struct Targets:
    # A block of rows of the output layer (IN).
    const void* z               # (n_rows, n_outputs) the logits, of the model's float type
    const void* y               # (n_rows, n_outputs) the targets
    const void* sample_weight   # (n_rows,), or NULL for unit weights
    Py_ssize_t n_rows
    Py_ssize_t n_outputs


cdef void loss_and_delta(Output output, const Targets* rows, double scale, floating* delta_out,
                         double* row_loss_out) noexcept nogil

cdef void output_activation(Output output, floating* z, Py_ssize_t n_rows, Py_ssize_t n_cols) noexcept nogil
