"""One training epoch in one call: every minibatch's gather, forward, backward and optimizer update in C.

`Epoch` owns the workspaces of one fit (batch buffers, activations, deltas, the gradient), allocated once
when it is built, so nothing is allocated while an epoch runs. `Epoch.run` takes the flat parameter and
optimizer-state buffers and releases the GIL for the whole epoch. Minibatches follow `order` (the epoch's
permutation of the rows, gathered into the batch buffers) or, without one, are read in place from X.
A CSR X is never gathered: a minibatch is its rows' numbers, which the first layer reads in place (`_sparse`).
The caller (`fastbp.trainer`) validates every array first; this module trusts shapes, dtypes and values.
"""

from cython cimport floating
from cython.parallel cimport prange
from libc.math cimport isfinite
from libc.stdlib cimport free, malloc
from libc.string cimport memcpy

import numpy as np

from fastbp._core._network cimport CoreNet, Layout, Threads, backward, forward_logits, thread_plan
from fastbp._core._openmp_helpers cimport start_team, use_threads_elementwise
from fastbp._core._optim cimport adam_step, adam_step_size, sgd_step
from fastbp._core._sparse cimport CSR, Scratch, SparseRows, batch_rows, largest_batch, sparse_input

cdef enum OptimizerKind:
    OPT_SGD = 0
    OPT_ADAM = 1

# The kinds, for the Python layer.
SGD = OPT_SGD
ADAM = OPT_ADAM


cdef struct Update:
    # The optimizer of a fit and its fixed hyperparameters (the learning rate comes per epoch).
    int kind
    double momentum
    bint nesterov
    double beta_1
    double beta_2
    double epsilon


cdef struct Progress:
    # How an epoch ended: the sum of minibatch objectives weighted by minibatch size (scikit-learn's epoch
    # loss before it divides by n_samples), the optimizer's step count, and whether every minibatch
    # objective was finite (the epoch stops at the first one that is not).
    double loss_sum
    long long t
    bint finite


cdef enum:
    UPDATE_CHUNK = 1 << 14   # parameters per block of a threaded optimizer update


cdef void update_chunk(Update update, floating* params, const floating* grad, floating* state_a,
                       floating* state_b, double learning_rate, long long t, Py_ssize_t first,
                       Py_ssize_t count) noexcept nogil:
    """The optimizer step on parameters first .. first + count."""
    if update.kind == OPT_SGD:
        sgd_step(params + first, grad + first, state_a + first, count, <floating> learning_rate,
                 <floating> update.momentum, update.nesterov)
    else:
        adam_step(params + first, grad + first, state_a + first, state_b + first, count,
                  adam_step_size(learning_rate, t, update.beta_1, update.beta_2),
                  <floating> update.beta_1, <floating> (1 - update.beta_1), <floating> update.beta_2,
                  <floating> (1 - update.beta_2), <floating> update.epsilon)


cdef void apply_update(Update update, floating* params, const floating* grad, floating* state_a,
                       floating* state_b, Py_ssize_t n_params, double learning_rate, long long t,
                       int n_threads) noexcept nogil:
    """Step number t (>= 1) of the optimizer over the flat buffers, in chunks spread over threads when the
    model is large: each parameter's update reads only its own entries, so any split gives the same bits."""
    cdef Py_ssize_t chunk, n_chunks = (n_params + UPDATE_CHUNK - 1) // UPDATE_CHUNK
    if use_threads_elementwise(n_threads, n_params):
        for chunk in prange(n_chunks, schedule="static", num_threads=start_team(n_threads)):
            update_chunk(update, params, grad, state_a, state_b, learning_rate, t, chunk * UPDATE_CHUNK,
                         min(<Py_ssize_t> UPDATE_CHUNK, n_params - chunk * UPDATE_CHUNK))
    else:
        update_chunk(update, params, grad, state_a, state_b, learning_rate, t, 0, n_params)


cdef inline const floating* gather(const floating* src, const Py_ssize_t* order, Py_ssize_t first,
                                   Py_ssize_t count, Py_ssize_t width, floating* buffer_out) noexcept nogil:
    """Rows order[first:first + count] of src (n, width), copied into buffer_out (count, width); or, without
    an order, a pointer to rows first .. first + count of src itself."""
    cdef Py_ssize_t i
    if order == NULL:
        return src + first * width
    for i in range(count):
        memcpy(buffer_out + i * width, src + order[first + i] * width, width * sizeof(floating))
    return buffer_out


cdef Progress epoch_loop(const Layout* net, floating* params, const floating* X, const floating* Y,
                         const floating* sample_weight, const Py_ssize_t* order, Py_ssize_t n_rows,
                         Py_ssize_t batch_size, double alpha, Update update, double learning_rate,
                         floating* state_a, floating* state_b, long long t, floating* batch_X,
                         floating* batch_Y, floating* batch_w, floating** acts, floating* delta_a,
                         floating* delta_b, double* row_loss, floating* grad, Threads threads,
                         const SparseRows* X_sparse) noexcept nogil:
    """Minibatch steps over rows 0 .. n_rows of X (n_rows, sizes[0]), or of X_sparse when not NULL (X and
    batch_X are then NULL), Y (n_rows, n_outputs) and sample_weight (n_rows,) or NULL, in the order
    `order` (n_rows,) or NULL. state_a/state_b: SGD's velocity (state_b unused) or Adam's m and v, each
    (n_params,)."""
    cdef Progress progress
    cdef Py_ssize_t first, count, i
    cdef int n_in = net.sizes[0]
    cdef int n_out = net.sizes[net.n_layers]
    cdef const floating* xb
    cdef const floating* yb
    cdef const floating* wb
    cdef double weight_sum, loss
    cdef SparseRows sparse_batch
    cdef const SparseRows* xb_sparse = NULL
    # Plain SGD (no momentum, no penalty) on dense X steps the weights inside backward's products; only the
    # intercepts, packed after every weight, are left to apply_update.
    cdef bint fused = update.kind == OPT_SGD and update.momentum == 0 and alpha == 0 and X_sparse == NULL
    cdef Py_ssize_t stepped = net.intercept_offset[0] if fused else 0
    progress.loss_sum = 0
    progress.t = t
    progress.finite = True
    first = 0
    while first < n_rows:
        count = min(batch_size, n_rows - first)
        if X_sparse != NULL:
            sparse_batch = batch_rows(X_sparse, order, first)
            xb_sparse = &sparse_batch
            xb = NULL
        else:
            xb = gather(X, order, first, count, n_in, batch_X)
        yb = gather(Y, order, first, count, n_out, batch_Y)
        wb = NULL if sample_weight == NULL else gather(sample_weight, order, first, count, 1, batch_w)
        weight_sum = count
        if wb != NULL:
            weight_sum = 0
            for i in range(count):
                weight_sum += wb[i]
        # A minibatch whose weights are all zero carries no information (and 0/0 gradients): skip it.
        if weight_sum > 0:
            forward_logits(net, params, xb, count, acts, threads, xb_sparse)
            loss = backward(net, params, xb, yb, wb, count, weight_sum, alpha, acts, delta_a, delta_b,
                            row_loss, grad, threads, xb_sparse, params if fused else NULL, learning_rate)
            if not isfinite(loss):
                progress.finite = False
                return progress
            progress.loss_sum += loss * count
            progress.t += 1
            apply_update(update, params + stepped, grad + stepped, state_a + stepped, state_b + stepped,
                         net.n_params - stepped, learning_rate, progress.t, threads.n)
        first += count
    return progress


cdef class Epoch:
    """The workspaces and fixed settings of one fit; `run` trains one epoch.

    Parameters
    ----------
    net : CoreNet
    batch_size : int >= 1 (at most the number of training rows)
    dtype : numpy float32 or float64 dtype of the model
    alpha : L2 penalty; optimizer : SGD or ADAM; momentum, nesterov (SGD); beta_1, beta_2, epsilon (Adam)
    n_threads : OpenMP threads for the core's blocks
    invariant : fixed blocks, so that results do not depend on n_threads (see `_network`)
    """
    cdef CoreNet net
    cdef readonly Py_ssize_t batch_size
    cdef Update update
    cdef double alpha
    cdef int n_threads
    cdef bint invariant
    cdef object batch_X, batch_Y, batch_w, act_buf, deltas, row_loss, grad
    cdef Scratch scratch
    cdef Py_ssize_t* act_offset
    cdef void** acts

    def __cinit__(self, CoreNet net, Py_ssize_t batch_size, dtype, double alpha, int optimizer, double momentum,
                  bint nesterov, double beta_1, double beta_2, double epsilon, int n_threads, bint invariant):
        cdef const Layout* layout = &net.layout
        cdef int l
        cdef Py_ssize_t offset = 0
        self.net = net
        self.batch_size = batch_size
        self.alpha = alpha
        self.n_threads = n_threads
        self.invariant = invariant
        self.update.kind = optimizer
        self.update.momentum = momentum
        self.update.nesterov = nesterov
        self.update.beta_1 = beta_1
        self.update.beta_2 = beta_2
        self.update.epsilon = epsilon
        width = max(net.layer_sizes[1:])
        self.batch_X = None  # made by the first run on dense X; CSR rows are read in place
        self.scratch = Scratch()  # the sparse first layer's, sized by the first run on CSR X
        self.batch_Y = np.empty(batch_size * layout.sizes[layout.n_layers], dtype=dtype)
        self.batch_w = np.empty(batch_size, dtype=dtype)
        self.act_buf = np.empty(batch_size * sum(net.layer_sizes[1:]), dtype=dtype)
        self.deltas = np.empty((2, batch_size * width), dtype=dtype)
        self.row_loss = np.empty(batch_size, dtype=np.float64)
        self.grad = np.empty(layout.n_params, dtype=dtype)
        self.act_offset = <Py_ssize_t*> malloc(layout.n_layers * sizeof(Py_ssize_t))
        self.acts = <void**> malloc(layout.n_layers * sizeof(void*))
        if self.act_offset == NULL or self.acts == NULL:
            raise MemoryError()
        for l in range(layout.n_layers):
            self.act_offset[l] = offset
            offset += batch_size * layout.sizes[l + 1]

    def __dealloc__(self):
        free(self.act_offset)
        free(self.acts)

    def run(self, floating[::1] params, X, const floating[:, ::1] Y, sample_weight,
            order, floating[::1] state_a, floating[::1] state_b, double learning_rate, long long t):
        """Train one epoch in place on params (n_params,) and the optimizer state (n_params,) each.

        X: (n_rows, n_features), a C-contiguous array or a CSR matrix (see `_sparse.CSR`); Y: (n_rows,
        n_outputs); sample_weight: (n_rows,) or None; order: (n_rows,) intp permutation of the rows, or
        None for rows in order; t: the optimizer's step count so far.
        Returns (loss_sum, t, finite): see `Progress`.
        """
        cdef const Layout* layout = &self.net.layout
        dtype = np.float32 if floating is float else np.float64
        cdef CSR X_csr = sparse_input(X, dtype)
        cdef const SparseRows* X_sparse = NULL if X_csr is None else &X_csr.rows
        cdef const floating[:, ::1] X_dense
        cdef const floating* X_ptr = NULL
        cdef floating[::1] batch_X
        cdef floating* batch_X_ptr = NULL
        cdef Py_ssize_t n_rows = X.shape[0]
        if X_csr is None:
            X_dense = X
            X_ptr = &X_dense[0, 0]
            if self.batch_X is None:
                self.batch_X = np.empty(self.batch_size * layout.sizes[0], dtype=dtype)
            batch_X = self.batch_X
            batch_X_ptr = &batch_X[0]
        cdef floating[::1] batch_Y = self.batch_Y
        cdef floating[::1] batch_w = self.batch_w
        cdef floating[::1] act_buf = self.act_buf
        cdef floating[:, ::1] deltas = self.deltas
        cdef double[::1] row_loss = self.row_loss
        cdef floating[::1] grad = self.grad
        cdef const floating[::1] sw
        cdef const floating* sw_ptr = NULL
        cdef const Py_ssize_t[::1] idx
        cdef const Py_ssize_t* order_ptr = NULL
        cdef floating** acts = <floating**> self.acts
        cdef Progress progress
        cdef Threads threads = thread_plan(self.n_threads, self.invariant, floating is float)
        cdef int l
        if sample_weight is not None:
            sw = sample_weight
            sw_ptr = &sw[0]
        if order is not None:
            idx = order
            order_ptr = &idx[0]
        if X_csr is not None:
            self.scratch.attach(X_csr, layout.sizes[0], largest_batch(X_sparse, order_ptr, n_rows, self.batch_size),
                                dtype)
        for l in range(layout.n_layers):
            acts[l] = &act_buf[self.act_offset[l]]
        with nogil:
            progress = epoch_loop(layout, &params[0], X_ptr, &Y[0, 0], sw_ptr, order_ptr, n_rows,
                                  self.batch_size, self.alpha, self.update, learning_rate, &state_a[0],
                                  &state_b[0], t, batch_X_ptr, &batch_Y[0], &batch_w[0], acts, &deltas[0, 0],
                                  &deltas[1, 0], &row_loss[0], &grad[0], threads, X_sparse)
        return progress.loss_sum, progress.t, bool(progress.finite)
