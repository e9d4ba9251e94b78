"""One training epoch in one call: every minibatch's gather, forward, backward and optimizer update in C.

`EpochKernel` owns the workspaces of one fit (batch buffers, activations, deltas, the gradient), allocated once
when it is built, so nothing is allocated while an epoch runs. `EpochKernel.train_epoch` takes the flat
parameter and optimizer-state buffers and releases the GIL for the whole epoch. Minibatches follow `order`
(the epoch's permutation of the rows, gathered into the batch buffers) or, without one, are read in place
from X. A CSR X is never gathered: a minibatch is its rows' numbers, which the first layer reads in place
(`_sparse`). The caller (`fastbp.backends`) validates every array first; this module trusts shapes, dtypes
and values.
"""


from cython cimport floating
from cython.parallel cimport prange
from libc.math cimport isfinite
from libc.stdlib cimport free, malloc
from libc.string cimport memcpy

import numpy as np

from fastbp._core._network cimport (CoreNet, StageScratch, backward, csr_rows, forward_logits, span_of,
                                    thread_plan)
from fastbp._core._openmp_helpers cimport start_team, use_threads_elementwise
from fastbp._core._optim cimport (SGD_KIND, Rule, Schedule, State, Step, clip_scale, make_rule, make_schedule,
                                  make_state, make_step, schedule_rate, update_span)
from fastbp._core._records cimport (STEP_LAYERS, STEP_COEFFICIENTS, STORE_GRADIENT, WEIGHT, Backward, Batch, Block,
                                    Dropout, Layout, SparseRows, Threads, Update, Workspace)

from fastbp._core._optim import clip_chunks
from fastbp._core._sparse cimport CSR, Scratch, batch_rows, largest_batch

from fastbp.steps import EpochResult  # the protocol's record (`fastbp.steps`), which epoch_loop runs in C


cdef struct Progress:
    double loss_sum
    long long steps
    bint finite
    double last_rate


cdef struct Training:
    # The optimizer and settings of a fit, and its progress in steps (IN-OUT).
    Rule rule
    State state                 # the optimizer's buffers, IN-OUT
    Schedule schedule           # the rate of each step, from learning_rate
    double alpha                # the L2 penalty
    double learning_rate        # of this epoch, which the schedule starts from
    double clip_norm            # the gradient's largest L2 norm before a step, 0: no clipping
    double* clip_partial        # (clip_chunks(n_params),) scratch of the clipping norm
    bint dropout                # the training passes drop units, with the masks of dropout_seed
    unsigned long long dropout_seed
    long long steps             # optimizer steps so far (Adam's t), IN-OUT
    void* grad                  # (n_params,) scratch of the model's float type


cdef struct Minibatches:
    # How an epoch walks its rows (IN), and where a dense minibatch is gathered (scratch).
    Py_ssize_t batch_size
    const Py_ssize_t* order     # (n_rows,) the epoch's permutation of the rows, or NULL: rows in order
    void* X                     # (batch_size, n_features), NULL for CSR X (read in place)
    void* Y                     # (batch_size, n_outputs)
    void* sample_weight         # (batch_size,)


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


cdef Progress epoch_loop(const Layout* net, floating* params, const Batch* data, const Minibatches* walk,
                         Workspace* work, Training* training, Threads threads) noexcept nogil:
    """Minibatch steps over the rows of `data` (dense X, or CSR X_sparse) in the order walk.order, updating params
    (IN-OUT) and the optimizer's state and step count in `training`: the training-step protocol of `fastbp.steps`
    (skip a minibatch without weight; dropout keyed by the step count; stop before the update at a non-finite
    objective; the schedule's rate; clipping; the step), in C. Its products may step a layer as soon as backward
    writes its gradient (the same bits as a pass after backward)."""
    cdef Progress progress
    cdef Py_ssize_t first, count, i
    cdef int n_in = net.n_columns
    cdef int n_out = net.layers[net.n_layers - 1].n_out
    cdef double loss, rate
    cdef Step step
    cdef Batch batch
    cdef SparseRows sparse_batch
    cdef floating* grad = <floating*> training.grad
    cdef Backward how
    cdef Update update
    cdef Dropout dropout
    cdef const Block* block
    cdef int b
    # Plain SGD (no momentum, penalty, weight decay or clipping) on dense X steps the weights inside
    # backward's products; only the other blocks are left to the optimizer.
    # Any other optimizer without clipping (which needs the whole gradient's norm first) steps each layer as
    # soon as backward writes its gradient, while that is in cache: the same bits as a pass after backward.
    how.alpha = training.alpha
    how.mode = STORE_GRADIENT
    how.update = NULL
    if data.X_sparse == NULL and training.clip_norm == 0:
        if training.rule.kind == SGD_KIND and training.rule.momentum == 0 and training.alpha == 0 \
                and training.rule.weight_decay == 0 and net.members == 1 and not net.inputs.active:
            how.mode = STEP_COEFFICIENTS
        else:
            how.mode = STEP_LAYERS
            update.rule, update.step, update.state = &training.rule, &step, &training.state
            how.update = &update
    dropout.seed = training.dropout_seed
    progress.loss_sum = 0
    progress.steps = training.steps
    progress.finite = True
    progress.last_rate = schedule_rate(&training.schedule, training.learning_rate, training.steps)
    batch.X_sparse = NULL
    first = 0
    while first < data.n_rows:
        count = min(walk.batch_size, data.n_rows - first)
        batch.n_rows = count
        if data.X_sparse != NULL:
            sparse_batch = batch_rows(data.X_sparse, walk.order, first)
            batch.X_sparse = &sparse_batch
            batch.X = NULL
        else:
            batch.X = gather(<const floating*> data.X, walk.order, first, count, n_in, <floating*> walk.X)
        batch.Y = gather(<const floating*> data.Y, walk.order, first, count, n_out, <floating*> walk.Y)
        batch.sample_weight = NULL
        if data.sample_weight != NULL:
            batch.sample_weight = gather(<const floating*> data.sample_weight, walk.order, first, count, 1,
                                         <floating*> walk.sample_weight)
        batch.weight_sum = count
        if batch.sample_weight != NULL:
            batch.weight_sum = 0
            for i in range(count):
                batch.weight_sum += (<const floating*> batch.sample_weight)[i]
        if batch.weight_sum > 0:
            rate = schedule_rate(&training.schedule, training.learning_rate, progress.steps)
            how.rate = rate
            make_step(&training.rule, progress.steps + 1, rate, &step)
            dropout.step = <unsigned long long> progress.steps
            forward_logits(net, params, &batch, work, &dropout if training.dropout else NULL, threads)
            loss = backward(net, params, &batch, work, how, grad, threads)
            if not isfinite(loss):
                progress.finite = False
                return progress
            if training.clip_norm > 0:  # the step scales the gradient as it reads it
                step.grad_scale = clip_scale(grad, net.n_params, training.clip_norm, training.clip_partial,
                                             threads.n)
            progress.loss_sum += loss * count
            progress.steps += 1
            progress.last_rate = rate
            training.steps = progress.steps
            if how.mode != STEP_LAYERS:  # the blocks backward did not step
                for b in range(net.n_blocks):
                    block = &net.blocks[b]
                    if how.mode == STORE_GRADIENT or block.role != WEIGHT:
                        update_span(&training.rule, &step, params, grad, &training.state, span_of(block),
                                    threads.n)
        first += count
    return progress


cdef class EpochKernel:
    """The workspaces and fixed settings of one fit; `train_epoch` trains one epoch.

    Parameters
    ----------
    net : CoreNet
    batch_size : int >= 1 (at most the number of training rows)
    dtype : numpy float32 or float64 dtype of the model
    optimizer : a name of `_optim.OPTIMIZERS`; settings: its settings (`_optim.SETTINGS[optimizer]` at least)
    options : dict: "alpha" (the L2 penalty), "clip_norm" (float or None), "schedule" ((name, settings) of
        `_optim.SCHEDULES`, or None: the epoch's rate at every step) and "dropout_seed" (int >= 0, or None: no
        dropout)
    n_threads : OpenMP threads for the core's blocks
    invariant : fixed blocks, so that results do not depend on n_threads (see `_network`)
    """
    cdef CoreNet net
    cdef readonly Py_ssize_t batch_size
    cdef readonly str optimizer
    cdef Rule rule
    cdef Schedule schedule
    cdef double alpha, clip_norm
    cdef bint dropout
    cdef unsigned long long dropout_seed
    cdef Threads threads
    cdef object batch_X, batch_Y, batch_w, act_buf, factor_buf, deltas, row_loss, grad, clip_partial
    cdef Scratch scratch
    cdef StageScratch members
    cdef Py_ssize_t* act_offset
    cdef Py_ssize_t* factor_offset
    cdef void** acts
    cdef void** factors

    def __cinit__(self, CoreNet net, Py_ssize_t batch_size, dtype, str optimizer, dict settings, dict options,
                  int n_threads, bint invariant):
        cdef const Layout* layout = &net.layout
        cdef int l
        cdef Py_ssize_t offset = 0, factor_offset = 0
        self.net = net
        self.batch_size = batch_size
        self.alpha = options["alpha"]
        self.clip_norm = options["clip_norm"] or 0.0
        schedule = options["schedule"]
        self.schedule = make_schedule(schedule[0], schedule[1]) if schedule is not None else make_schedule("constant", {})
        self.dropout = options["dropout_seed"] is not None
        self.dropout_seed = options["dropout_seed"] if self.dropout else 0
        self.optimizer = optimizer
        self.rule = make_rule(optimizer, settings)
        self.threads = thread_plan(n_threads, invariant, np.dtype(dtype) == np.float32)
        self.batch_X = None  # made by the first run on dense X; CSR rows are read in place
        self.scratch = Scratch()  # the sparse first layer's, sized by the first run on CSR X
        self.batch_Y = np.empty(batch_size * layout.layers[layout.n_layers - 1].n_out, dtype=dtype)
        self.batch_w = np.empty(batch_size, dtype=dtype)
        units = [net.units(l) for l in range(layout.n_layers)]
        self.act_buf = np.empty(batch_size * sum(units), dtype=dtype)
        self.deltas = np.empty((2, batch_size * layout.width), dtype=dtype)
        self.row_loss = np.empty(batch_size * layout.members, dtype=np.float64)
        self.members = StageScratch(net, batch_size, dtype, True)
        self.grad = np.empty(layout.n_params, dtype=dtype)
        self.clip_partial = np.empty(clip_chunks(layout.n_params), dtype=np.float64)
        widths = net.factor_widths(self.dropout)
        self.factor_buf = np.empty(max(1, batch_size * sum(widths)), dtype=dtype)
        self.act_offset = <Py_ssize_t*> malloc(layout.n_layers * sizeof(Py_ssize_t))
        self.factor_offset = <Py_ssize_t*> malloc(layout.n_layers * sizeof(Py_ssize_t))
        self.acts = <void**> malloc(layout.n_layers * sizeof(void*))
        self.factors = <void**> malloc(layout.n_layers * sizeof(void*))
        if self.act_offset == NULL or self.factor_offset == NULL or self.acts == NULL or self.factors == NULL:
            raise MemoryError()
        for l in range(layout.n_layers):
            self.act_offset[l] = offset
            offset += batch_size * units[l]
            self.factor_offset[l] = factor_offset if widths[l] else -1
            factor_offset += batch_size * widths[l]

    def __dealloc__(self):
        free(self.act_offset)
        free(self.factor_offset)
        free(self.acts)
        free(self.factors)

    def train_epoch(self, floating[::1] params, X, const floating[:, ::1] Y, sample_weight, order, dict state,
                    double learning_rate, long long steps):
        """Train one epoch in place on params (n_params,) and the optimizer's state {name: (n_params,) array},
        named as `_optim.STATE_NAMES` lists them.

        X: (n_rows, n_features), a C-contiguous array or a CSR matrix (see `_sparse.CSR`); Y: (n_rows,
        n_outputs); sample_weight: (n_rows,) or None; order: (n_rows,) intp permutation of the rows, or
        None for rows in order; steps: the optimizer's step count so far. Returns an `EpochResult`.
        """
        cdef const Layout* layout = &self.net.layout
        dtype = np.float32 if floating is float else np.float64
        cdef CSR X_csr = csr_rows(layout, X, dtype)
        cdef const floating[:, ::1] X_dense
        cdef floating[::1] batch_X
        cdef floating[::1] batch_Y = self.batch_Y
        cdef floating[::1] batch_w = self.batch_w
        cdef floating[::1] act_buf = self.act_buf
        cdef floating[::1] factor_buf = self.factor_buf
        cdef double[::1] clip_partial = self.clip_partial
        cdef floating[:, ::1] deltas = self.deltas
        cdef double[::1] row_loss = self.row_loss
        cdef floating[::1] grad = self.grad
        cdef const floating[::1] sw
        cdef const Py_ssize_t[::1] idx
        cdef Progress progress
        cdef Batch data
        cdef Minibatches walk
        cdef Workspace work
        cdef Training training
        cdef int l
        data.n_rows = X.shape[0]
        data.X = NULL
        data.X_sparse = NULL
        data.Y = &Y[0, 0]
        data.sample_weight = NULL
        data.weight_sum = 0  # each minibatch has its own
        walk.batch_size = self.batch_size
        walk.order = NULL
        walk.X = NULL
        walk.Y = &batch_Y[0]
        walk.sample_weight = &batch_w[0]
        if X_csr is None:
            X_dense = X
            data.X = &X_dense[0, 0]
            if self.batch_X is None:
                self.batch_X = np.empty(self.batch_size * layout.n_columns, dtype=dtype)
            batch_X = self.batch_X
            walk.X = &batch_X[0]
        else:
            data.X_sparse = &X_csr.rows
        if sample_weight is not None:
            sw = sample_weight
            data.sample_weight = &sw[0]
        if order is not None:
            idx = order
            walk.order = &idx[0]
        if X_csr is not None:
            self.scratch.attach(X_csr, layout.layers[0].n_in,
                                largest_batch(data.X_sparse, walk.order, data.n_rows, self.batch_size), dtype)
        for l in range(layout.n_layers):
            self.acts[l] = &act_buf[self.act_offset[l]]
            self.factors[l] = &factor_buf[self.factor_offset[l]] if self.factor_offset[l] >= 0 else NULL
        work.acts = self.acts
        work.factor = self.factors
        work.delta_a = &deltas[0, 0]
        work.delta_b = &deltas[1, 0]
        work.row_loss = &row_loss[0]
        self.members.attach(&work)
        training.rule = self.rule
        training.state = make_state(self.optimizer, state, params)  # `state` keeps the buffers alive
        training.schedule = self.schedule
        training.alpha = self.alpha
        training.learning_rate = learning_rate
        training.clip_norm = self.clip_norm
        training.clip_partial = &clip_partial[0]
        training.dropout = self.dropout
        training.dropout_seed = self.dropout_seed
        training.steps = steps
        training.grad = &grad[0]
        with nogil:
            progress = epoch_loop(layout, &params[0], &data, &walk, &work, &training, self.threads)
        return EpochResult(progress.loss_sum, progress.steps, bool(progress.finite), progress.last_rate)
