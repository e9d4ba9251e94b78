from cython cimport floating

# Output layers, named as scikit-learn's `out_activation_`, each with its natural loss. For every pair the
# gradient of the loss at the logit z is y_hat - y, which is what makes the backward pass uniform; the losses of
# `Loss` other than the natural one state their own gradient (`_losses.row_loss_delta`).
cdef enum Output:
    OUT_IDENTITY = 0   # y_hat = z,          L = 1/2 sum_k (y_k - z_k)^2
    OUT_LOGISTIC = 1   # y_hat = sigmoid(z), L = sum_k softplus(z_k) - y_k z_k   (binary cross-entropy)
    OUT_SOFTMAX = 2    # y_hat = softmax(z), L = logsumexp(z) sum_k y_k - sum_k y_k z_k
    OUT_EXP = 3        # y_hat = exp(z),     L = sum_k exp(z_k) - y_k z_k + y_k log y_k - y_k  (half Poisson deviance)


cdef enum Loss:
    LOSS_NATURAL = 0   # the output's own (above)
    LOSS_HUBER = 1     # identity output: 1/2 d^2 for |d| <= delta, else delta (|d| - delta / 2); d = z - y
    LOSS_ABSOLUTE = 2  # identity output: |d|, gradient sign(d) (0 at 0)


cdef struct LossSpec:
    # A network's loss (IN): its kind, Huber's delta, and the label smoothing of the logistic and softmax
    # outputs (targets y (1 - e) + e / 2, or y (1 - e) + e / K for K classes, as PyTorch's losses smooth them).
    Loss loss
    double huber_delta
    double smoothing


cdef struct Targets:
    # A block of rows of the output layer (IN).
    const void* z               # (n_rows, n_outputs) the logits, of the model's float type
    const void* y               # (n_rows, n_outputs) the targets
    const void* sample_weight   # (n_rows,), or NULL for unit weights
    Py_ssize_t n_rows
    Py_ssize_t n_outputs


cdef void loss_and_delta(Output output, const LossSpec* spec, const Targets* rows, double scale, floating* delta_out,
                         double* row_loss_out) noexcept nogil

cdef void output_activation(Output output, floating* z, Py_ssize_t n_rows, Py_ssize_t n_cols) noexcept nogil
