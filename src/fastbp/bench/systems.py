"""The systems the benchmark times: one training epoch each, on the same problem.

Every system starts each timed epoch from the same initial weights and a fresh optimizer (`reset`, not
timed), walks the rows in order in minibatches of the same size, and takes one optimizer step per
minibatch: for the classic workloads one plain gradient step (no momentum, no penalty, binary
cross-entropy on a logistic output); for the modern one what its `fastbp.bench.workloads.Model` says
(dropout, AdamW, a per-step schedule, clipping). `epoch()` returns the epoch's loss as scikit-learn reports
it (the mean of the minibatch losses weighted by their sizes), so the systems can be checked against each
other; with dropout, only the systems that draw fastbp's masks (`shares_masks`) are. The GEMM floor does
only the epoch's matrix products and returns no loss.
"""

import numpy as np

from fastbp._threads import plan, single_threaded_blas
from fastbp.backends import Training
from fastbp.bench.workloads import order
from fastbp.embeddings import PiecewiseLinear, compute_bins
from fastbp.epochs import FitLoop
from fastbp.estimators._sklearn import OPTIMIZER
from fastbp.network import MLP
from fastbp.optim import SGD, Adam, AdamW
from fastbp.schedules import WarmupCosine

ADAM_RATE = 1e-3  # the realistic workloads' Adam, scikit-learn's and PyTorch's default rate
WEIGHT_DECAY = 1e-2  # AdamW's, PyTorch's default


class Problem:
    """The data, the network's initial weights and the training settings every system shares."""

    def __init__(self, sizes, X, Y, batch_size, learning_rate, n_threads, model):
        self.sizes, self.X, self.Y, self.model = tuple(sizes), X, Y, model
        self.batch_size, self.learning_rate, self.n_threads = batch_size, learning_rate, n_threads
        self.activations = model.activation_of(len(sizes) - 2)
        ensemble = {} if model.members == 1 else dict(ensemble_size=model.members, ensemble=model.ensemble,
                                                      init="torch")  # tabm's initialization
        if model.categories:
            ensemble["categories"] = list(model.categories)
        if model.n_bins:
            numeric = X[:, :sizes[0] - len(model.categories)].astype(np.float64)
            ensemble["embedding"] = PiecewiseLinear(compute_bins(numeric, model.n_bins), model.d_embedding)
        self.initial = MLP(sizes, list(self.activations), model.output, dtype=X.dtype, random_state=0,
                           dropout=model.dropout, **ensemble)
        self.order = order(self.n_rows) if model.shuffle else None  # the rows' order in every timed epoch

    @property
    def steps(self):
        return -(-self.n_rows // self.batch_size)

    def schedule(self):
        """The per-step schedule (a `fastbp.schedules.WarmupCosine` over the epoch's steps), or None."""
        return WarmupCosine(max(1, self.steps // 10), self.steps) if self.model.warmup_cosine else None

    @property
    def n_rows(self):
        return self.X.shape[0]

    @property
    def flops(self):
        """Floating-point operations of an epoch's matrix products (the GEMM floor's): per row, every layer's
        forward product and weight gradient, and every layer's but the first's propagated delta (the first
        layer's too when an embedding's gradient needs it), and an embedding's forward product and gradient."""
        layout = self.initial.layout
        sizes = layout.layer_sizes
        macs = [self.model.members * n_in * n_out for n_in, n_out in zip(sizes[:-1], sizes[1:])]
        embedding = layout.find("embedding_weight", -1)
        extra = 0 if embedding is None else 2 * embedding.size + macs[0]
        return 2 * self.n_rows * (2 * sum(macs) + sum(macs[1:]) + extra)


class System:
    """What the benchmark times: `epoch()` between `begin()` and `end()`, which prepare and undo what an
    epoch needs around it, untimed; `reset()` puts the initial weights back and starts the optimizer over.
    `supports(model)` says whether the system can train a workload's `Model`."""

    shares_masks = False  # whether its dropout masks are fastbp's

    @staticmethod
    def supports(model):
        return True

    @staticmethod
    def same_arithmetic(model):
        """Whether its epoch computes fastbp's, so that it must end with fastbp's loss."""
        return True

    def begin(self):
        pass

    def end(self):
        pass


class Fastbp(System):
    """fastbp's epoch as Trainer runs it: one compiled call (backend="cython") or the NumPy reference loop."""

    shares_masks = True
    backend, thread_invariant = "cython", False

    def __init__(self, problem):
        self.problem = problem
        model, thread_invariant = problem.model, self.thread_invariant
        self.net = problem.initial.copy(backend=self.backend)
        self.net.thread_invariant = thread_invariant
        self.optimizer = {"adamw": lambda: AdamW(model.adamw_rate, weight_decay=WEIGHT_DECAY),
                          "adam": lambda: Adam(ADAM_RATE),
                          "sgd": lambda: SGD(problem.learning_rate, momentum=0.0, nesterov=False)}[model.optimizer]()
        training = Training(clip_norm=model.clip_norm, schedule=problem.schedule(),
                            dropout_seed=0 if model.dropout else None)
        self.loop = FitLoop(self.net, self.optimizer, self.net.check_batch(problem.X, problem.Y), None,
                            batch_size=problem.batch_size, training=training, shuffle=model.shuffle,
                            plan=plan(problem.n_threads, invariant=thread_invariant))

    def reset(self):
        self.net.params[...] = self.problem.initial.params
        for buffer in self.loop.state.values():  # the optimizer starts over: zero state, step 0
            buffer[...] = 0
        self.optimizer.t = 0
        if self.problem.order is not None:  # the epoch's shuffle draws problem.order again, as the trainer does
            self.loop.rng = np.random.RandomState(0)
            self.loop.order = np.arange(self.problem.n_rows, dtype=np.intp)

    def epoch(self):
        # Trainer.fit limits BLAS to one thread once for all its epochs: so does each timed epoch here, set
        # before the clock starts and reset after it stops (`begin`, `end`).
        return self.loop.run_epoch(0, self.optimizer.learning_rate).loss

    def begin(self):
        self.blas_limit = single_threaded_blas()
        self.blas_limit.__enter__()

    def end(self):
        self.blas_limit.__exit__(None, None, None)


class ScikitLearn(System):
    """sklearn.neural_network's MLP: solver "sgd" without momentum or "adam", no penalty, no shuffling of its own
    (a shuffled workload's rows are handed over in `Problem.order`, untimed); one epoch is one `partial_fit`
    (which also checks the input, as every `fit` does once). Not for GELU, dropout, AdamW or schedules."""

    @staticmethod
    def supports(model):
        return (set(model.activations) <= {"logistic", "relu"} and model.optimizer in ("sgd", "adam")
                and not model.dropout and not model.warmup_cosine and model.clip_norm is None and model.members == 1)

    def __init__(self, problem):
        from sklearn.neural_network import MLPClassifier, MLPRegressor

        self.problem, model = problem, problem.model
        rows = slice(None) if problem.order is None else problem.order
        self.X = problem.X[rows]
        options = dict(hidden_layer_sizes=problem.sizes[1:-1], activation=problem.activations[0], alpha=0.0,
                       batch_size=problem.batch_size, shuffle=False)
        if model.optimizer == "adam":
            options.update(solver="adam", learning_rate_init=ADAM_RATE)
        else:
            options.update(solver="sgd", learning_rate_init=problem.learning_rate, momentum=0.0,
                           nesterovs_momentum=False)
        first = slice(0, problem.batch_size)
        if model.output == "identity":
            self.y = problem.Y[rows].ravel() if problem.Y.shape[1] == 1 else problem.Y[rows]
            self.model = MLPRegressor(**options)
            self.model.partial_fit(self.X[first], self.y[first])  # makes coefs_ and the optimizer
        else:
            labels = problem.Y.argmax(axis=1) if problem.Y.shape[1] > 1 else problem.Y.ravel()
            self.y = labels[rows].astype(np.intp)
            self.model = MLPClassifier(**options)
            self.model.partial_fit(self.X[first], self.y[first], classes=np.arange(max(2, problem.Y.shape[1])))

    def reset(self):
        # In place: the optimizer holds these very arrays. Adam starts over from fresh moments.
        for ours, theirs in zip(self.problem.initial.coefs + self.problem.initial.intercepts,
                                self.model.coefs_ + self.model.intercepts_):
            theirs[...] = ours
        if self.problem.model.optimizer == "adam" and hasattr(self.model, OPTIMIZER):
            delattr(self.model, OPTIMIZER)  # scikit-learn makes a new AdamOptimizer at the next partial_fit

    def epoch(self):
        self.model.partial_fit(self.X, self.y)
        return float(self.model.loss_)


class PyTorch(System):
    """torch, eager: nn.Sequential of Linear, the activation modules (and Dropout), the loss from the logits
    (BCEWithLogitsLoss, CrossEntropyLoss, or half the MSELoss), torch.optim (SGD, Adam, or AdamW with the
    intercepts undecayed, as fastbp decays), torch's schedulers stepped per minibatch, clip_grad_norm_;
    minibatches by slicing, or by indexing with the shuffled order. Its Adam adds epsilon after the bias
    correction, scikit-learn's (and fastbp's Adam) before it: the same epoch up to that, not the same loss.
    An ensemble is the `tabm` package's TabM (`fastbp.bench.tabm_peer`), its loss the mean of the members'."""

    @staticmethod
    def supports(model):
        if model.members == 1:
            return True
        try:
            import tabm  # noqa: F401
        except ImportError:
            return False
        return model.output == "identity"

    @staticmethod
    def same_arithmetic(model):
        return model.optimizer != "adam" and not model.dropout

    MODULES = {"logistic": "Sigmoid", "relu": "ReLU", "gelu": "GELU", "tanh": "Tanh"}

    def __init__(self, problem):
        import torch

        self.torch, self.problem = torch, problem
        model = problem.model
        if problem.n_threads is not None:
            torch.set_num_threads(problem.n_threads)
        dtype = torch.float32 if problem.X.dtype == np.float32 else torch.float64
        self.X, self.Y = torch.from_numpy(problem.X), torch.from_numpy(problem.Y)
        self.order = None if problem.order is None else torch.from_numpy(problem.order)
        if model.members > 1:
            from fastbp.bench import tabm_peer

            self.model = tabm_peer.make(problem.initial, model.dropout).train()
            self.loss = lambda output, target: 0.5 * ((output - target[:, None, :]) ** 2).sum(-1).mean()
            return
        layers = []
        pairs = list(zip(problem.sizes[:-1], problem.sizes[1:]))
        for l, (n_in, n_out) in enumerate(pairs):
            layers.append(torch.nn.Linear(n_in, n_out, dtype=dtype))
            if l < len(pairs) - 1:
                layers.append(getattr(torch.nn, self.MODULES[problem.activations[l]])())
                if model.dropout:
                    layers.append(torch.nn.Dropout(model.dropout))
        self.model = torch.nn.Sequential(*layers).train()  # the output keeps its logits for the loss
        self.linears = [layer for layer in self.model if isinstance(layer, torch.nn.Linear)]
        if model.output == "softmax":
            self.loss = torch.nn.CrossEntropyLoss()
            self.Y = torch.from_numpy(problem.Y.argmax(axis=1))
        elif model.output == "identity":
            mse = torch.nn.MSELoss()
            self.loss = lambda output, target: 0.5 * mse(output, target) * target.shape[1]  # fastbp's half SE
        else:
            self.loss = torch.nn.BCEWithLogitsLoss()

    def reset(self):
        torch, problem = self.torch, self.problem
        if problem.model.members > 1:
            from fastbp.bench import tabm_peer

            tabm_peer.load(self.model, problem.initial.layout, problem.initial.params)
        else:
            with torch.no_grad():
                for linear, W, b in zip(self.linears, problem.initial.coefs, problem.initial.intercepts):
                    linear.weight.copy_(torch.from_numpy(np.ascontiguousarray(W.T)))
                    linear.bias.copy_(torch.from_numpy(b))
        if problem.model.optimizer == "adamw" and problem.model.members > 1:  # fastbp's policy, by the layout
            from fastbp.bench import tabm_peer

            groups = tabm_peer.parameter_groups(self.model, problem.initial.layout, WEIGHT_DECAY)
            self.optimizer = torch.optim.AdamW(groups, lr=problem.model.adamw_rate, weight_decay=WEIGHT_DECAY)
        elif problem.model.optimizer == "adamw":  # fastbp's policy: no decay on the biases
            named = list(self.model.named_parameters())
            groups = [{"params": [p for name, p in named if not name.endswith("bias")]},
                      {"params": [p for name, p in named if name.endswith("bias")], "weight_decay": 0.0}]
            self.optimizer = torch.optim.AdamW(groups, lr=problem.model.adamw_rate, weight_decay=WEIGHT_DECAY)
        elif problem.model.optimizer == "adam":
            self.optimizer = torch.optim.Adam(self.model.parameters(), lr=ADAM_RATE)
        else:
            self.optimizer = torch.optim.SGD(self.model.parameters(), lr=problem.learning_rate)
        self.scheduler = None
        schedule = problem.schedule()
        if schedule is not None:
            lr, w = torch.optim.lr_scheduler, schedule.warmup_steps
            self.scheduler = lr.SequentialLR(self.optimizer, [
                lr.LinearLR(self.optimizer, start_factor=1 / w, total_iters=w - 1),
                lr.CosineAnnealingLR(self.optimizer, T_max=schedule.total_steps - w)], milestones=[w])

    def epoch(self):
        total, batch, clip = 0.0, self.problem.batch_size, self.problem.model.clip_norm
        for first in range(0, self.problem.n_rows, batch):
            if self.order is None:
                xb, yb = self.X[first:first + batch], self.Y[first:first + batch]
            else:
                rows = self.order[first:first + batch]
                xb, yb = self.X[rows], self.Y[rows]
            self.optimizer.zero_grad()
            loss = self.loss(self.model(xb), yb)
            loss.backward()
            if clip is not None:
                self.torch.nn.utils.clip_grad_norm_(self.model.parameters(), clip)
            self.optimizer.step()
            if self.scheduler is not None:
                self.scheduler.step()
            total += loss.item() * xb.shape[0]
        return total / self.problem.n_rows


class GemmFloor(System):
    """Only the epoch's matrix products, with NumPy into preallocated outputs: per minibatch the forward
    products A[l-1] W[l], the weight gradients A[l-1]^T delta[l] and the propagated deltas delta[l] W[l]^T.
    No activation, loss or update, so no training system can be faster by doing the same products. With inputs,
    the first layer reads a stand-in of their width (the lookups are not products), and an embedding adds its
    per-feature products (forward and gradient) and the first layer's propagated delta."""

    def __init__(self, problem):
        self.problem = problem
        batch, dtype, layout = problem.batch_size, problem.X.dtype, problem.initial.layout
        sizes = layout.layer_sizes
        self.W = [W.copy() for W in problem.initial.coefs]
        self.last_rows = problem.n_rows - (problem.n_rows - 1) // batch * batch
        rng = np.random.RandomState(0)
        self.inputs = problem.X if layout.inputs is None else rng.randn(problem.n_rows, sizes[0]).astype(dtype)
        embedding = layout.find("embedding_weight", -1)
        self.E = None if embedding is None else embedding.view(problem.initial.params).copy()  # (f, B, d)
        if self.E is not None:  # each feature's encoding (f, n, B): a stand-in of its shape
            self.features = rng.rand(self.E.shape[0], problem.n_rows, self.E.shape[1]).astype(dtype)
            self.E_grad = np.empty_like(self.E)
        first = 0 if self.E is not None else 1  # the first layer's delta: only an embedding needs it
        self.buffers = {rows: ([np.empty((rows, n), dtype) for n in sizes[1:]],
                               [np.empty((rows, n), dtype) for n in sizes[first:-1]])
                        for rows in {batch, self.last_rows}}
        self.grads = [np.empty_like(W) for W in self.W]
        k = problem.model.members
        if k > 1:  # an ensemble's products: a shared W over the batch's k member rows, one W per member
            self.X = np.ascontiguousarray(np.repeat(self.inputs[None], k, axis=0))  # (k, n, n_features)
            self.buffers = {rows: ([np.empty((k, rows, n), dtype) for n in sizes[1:]],
                                   [np.empty((k, rows, n), dtype) for n in sizes[first:-1]])
                            for rows in {batch, self.last_rows}}
        self.first_delta = first

    def reset(self):
        pass

    def epoch(self):
        X, batch, W = self.inputs, self.problem.batch_size, self.W
        if self.problem.model.members > 1:
            return self.ensemble_epoch()
        for first in range(0, self.problem.n_rows, batch):
            a_prev = X[first:first + batch]
            acts, deltas = self.buffers[a_prev.shape[0]]
            for l in range(len(W)):
                np.matmul(a_prev, W[l], out=acts[l])
                a_prev = acts[l]
            for l in range(len(W) - 1, -1, -1):
                delta = acts[l]  # stands in for delta[l]: same shape, and no arithmetic is timed but products
                np.matmul((X[first:first + batch] if l == 0 else acts[l - 1]).T, delta, out=self.grads[l])
                if l >= self.first_delta:
                    np.matmul(delta, W[l].T, out=deltas[l - self.first_delta])
            if self.E is not None:
                embedded = np.matmul(self.features[:, first:first + batch], self.E)
                np.matmul(self.features[:, first:first + batch].transpose(0, 2, 1), embedded, out=self.E_grad)
        return float("nan")

    def ensemble_epoch(self):
        """The epoch's products of an ensemble, member rows (k, rows, units): a shared W multiplies all the
        member rows at once (one product of k rows times the batch), one W per member stacks k products."""
        batch, W = self.problem.batch_size, self.W
        for first in range(0, self.problem.n_rows, batch):
            x = self.X[:, first:first + batch]  # (k, rows, n_features), the input once per member
            acts, deltas = self.buffers[x.shape[1]]
            if self.E is not None:
                embedded = np.matmul(self.features[:, first:first + batch], self.E)  # (f, rows, d)
            a_prev = x
            for l in range(len(W)):
                np.matmul(a_prev, W[l], out=acts[l])
                a_prev = acts[l]
            for l in range(len(W) - 1, -1, -1):
                inputs, delta = (x if l == 0 else acts[l - 1]), acts[l]
                if W[l].ndim == 2:  # the shared W's gradient sums over every member's rows: one product
                    np.matmul(inputs.reshape(-1, inputs.shape[-1]).T, delta.reshape(-1, delta.shape[-1]),
                              out=self.grads[l])
                else:
                    np.matmul(inputs.transpose(0, 2, 1), delta, out=self.grads[l])
                if l >= self.first_delta:
                    np.matmul(delta, np.swapaxes(W[l], -1, -2), out=deltas[l - self.first_delta])
            if self.E is not None:
                np.matmul(self.features[:, first:first + batch].transpose(0, 2, 1), embedded, out=self.E_grad)
        return float("nan")


class Invariant(Fastbp):
    """fastbp with thread_invariant=True."""

    thread_invariant = True


class Reference(Fastbp):
    """fastbp's NumPy backend, the Trainer's epoch on it (not for ensembles: minutes an epoch)."""

    backend = "numpy"

    @staticmethod
    def supports(model):
        return model.members == 1


SYSTEMS = {
    "fastbp": Fastbp,
    "invariant": Invariant,
    "numpy": Reference,
    "sklearn": ScikitLearn,
    "torch": PyTorch,
    "floor": GemmFloor,
}


def torch_available():
    try:
        import torch  # noqa: F401
    except ImportError:
        return False
    return True
