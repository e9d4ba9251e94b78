"""The systems the benchmark times: one epoch of plain minibatch SGD each, on the same problem.

Every system starts each timed epoch from the same initial weights (`reset`, not timed), walks the rows in
order in minibatches of the same size, and takes one plain gradient step per minibatch (no momentum, no
penalty, binary cross-entropy on a logistic output). `epoch()` returns the epoch's loss as scikit-learn
reports it (the mean of the minibatch losses weighted by their sizes), so the systems can be checked
against each other. The GEMM floor does only the epoch's matrix products and returns no loss.
"""

import numpy as np

from fastbp._threads import plan, single_threaded_blas
from fastbp.epochs import FitLoop
from fastbp.network import MLP
from fastbp.optim import SGD


class Problem:
    """The data, the network's initial weights and the training settings every system shares."""

    def __init__(self, sizes, X, Y, batch_size, learning_rate, n_threads):
        self.sizes, self.X, self.Y = tuple(sizes), X, Y
        self.batch_size, self.learning_rate, self.n_threads = batch_size, learning_rate, n_threads
        self.initial = MLP(sizes, "logistic", "logistic", dtype=X.dtype, random_state=0)

    @property
    def n_rows(self):
        return self.X.shape[0]

    @property
    def flops(self):
        """Floating-point operations of an epoch's matrix products (the GEMM floor's): per row, every layer's
        forward product and weight gradient, and every layer's but the first's propagated delta."""
        macs = [n_in * n_out for n_in, n_out in zip(self.sizes[:-1], self.sizes[1:])]
        return 2 * self.n_rows * (2 * sum(macs) + sum(macs[1:]))


class System:
    """What the benchmark times: `epoch()` between `begin()` and `end()`, which prepare and undo what an
    epoch needs around it, untimed; `reset()` puts the initial weights back."""

    def begin(self):
        pass

    def end(self):
        pass


class Fastbp(System):
    """fastbp's epoch as Trainer runs it: one compiled call (backend="cython") or the NumPy reference loop."""

    def __init__(self, problem, backend="cython", thread_invariant=False):
        self.problem = problem
        self.net = problem.initial.copy(backend=backend)
        self.net.thread_invariant = thread_invariant
        optimizer = SGD(problem.learning_rate, momentum=0.0, nesterov=False)
        self.loop = FitLoop(self.net, optimizer, self.net.check_batch(problem.X, problem.Y), None,
                            batch_size=problem.batch_size, alpha=0.0, shuffle=False,
                            plan=plan(problem.n_threads, invariant=thread_invariant))

    def reset(self):
        self.net.params[...] = self.problem.initial.params

    def epoch(self):
        # Trainer.fit limits BLAS to one thread once for all its epochs: so does each timed epoch here, set
        # before the clock starts and reset after it stops (`begin`, `end`).
        return self.loop.run_epoch(0, self.problem.learning_rate).loss

    def begin(self):
        self.blas_limit = single_threaded_blas()
        self.blas_limit.__enter__()

    def end(self):
        self.blas_limit.__exit__(None, None, None)


class ScikitLearn(System):
    """sklearn.neural_network.MLPClassifier, solver="sgd" without momentum, penalty or shuffling; one epoch is
    one `partial_fit` (which also checks the input, as every `fit` does once)."""

    def __init__(self, problem):
        from sklearn.neural_network import MLPClassifier

        self.problem = problem
        self.y = problem.Y.ravel().astype(np.intp)
        self.model = MLPClassifier(
            hidden_layer_sizes=problem.sizes[1:-1], activation="logistic", solver="sgd", alpha=0.0,
            batch_size=problem.batch_size, learning_rate_init=problem.learning_rate, momentum=0.0,
            nesterovs_momentum=False, shuffle=False)
        first = slice(0, problem.batch_size)
        self.model.partial_fit(problem.X[first], self.y[first], classes=[0, 1])  # makes coefs_ and the optimizer

    def reset(self):
        # In place: the optimizer holds these very arrays.
        for ours, theirs in zip(self.problem.initial.coefs + self.problem.initial.intercepts,
                                self.model.coefs_ + self.model.intercepts_):
            theirs[...] = ours

    def epoch(self):
        self.model.partial_fit(self.problem.X, self.y)
        return float(self.model.loss_)


class PyTorch(System):
    """torch: nn.Sequential of Linear and Sigmoid, BCEWithLogitsLoss, optim.SGD; minibatches by slicing."""

    def __init__(self, problem):
        import torch

        self.torch, self.problem = torch, problem
        if problem.n_threads is not None:
            torch.set_num_threads(problem.n_threads)
        dtype = torch.float32 if problem.X.dtype == np.float32 else torch.float64
        layers = []
        for n_in, n_out in zip(problem.sizes[:-1], problem.sizes[1:]):
            layers += [torch.nn.Linear(n_in, n_out, dtype=dtype), torch.nn.Sigmoid()]
        self.model = torch.nn.Sequential(*layers[:-1])  # the output keeps its logits for the loss
        self.linears = [layer for layer in self.model if isinstance(layer, torch.nn.Linear)]
        self.loss = torch.nn.BCEWithLogitsLoss()
        self.optimizer = torch.optim.SGD(self.model.parameters(), lr=problem.learning_rate)
        self.X, self.Y = torch.from_numpy(problem.X), torch.from_numpy(problem.Y)

    def reset(self):
        with self.torch.no_grad():
            for linear, W, b in zip(self.linears, self.problem.initial.coefs, self.problem.initial.intercepts):
                linear.weight.copy_(self.torch.from_numpy(np.ascontiguousarray(W.T)))
                linear.bias.copy_(self.torch.from_numpy(b))

    def epoch(self):
        total, batch = 0.0, self.problem.batch_size
        for first in range(0, self.problem.n_rows, batch):
            xb, yb = self.X[first:first + batch], self.Y[first:first + batch]
            self.optimizer.zero_grad()
            loss = self.loss(self.model(xb), yb)
            loss.backward()
            self.optimizer.step()
            total += loss.item() * xb.shape[0]
        return total / self.problem.n_rows


class GemmFloor(System):
    """Only the epoch's matrix products, with NumPy into preallocated outputs: per minibatch the forward
    products A[l-1] W[l], the weight gradients A[l-1]^T delta[l] and the propagated deltas delta[l] W[l]^T.
    No activation, loss or update, so no training system can be faster by doing the same products."""

    def __init__(self, problem):
        self.problem = problem
        sizes, batch, dtype = problem.sizes, problem.batch_size, problem.X.dtype
        self.W = [W.copy() for W in problem.initial.coefs]
        self.last_rows = problem.n_rows - (problem.n_rows - 1) // batch * batch
        self.buffers = {rows: ([np.empty((rows, n), dtype) for n in sizes[1:]],
                               [np.empty((rows, n), dtype) for n in sizes[1:-1]])
                        for rows in {batch, self.last_rows}}
        self.grads = [np.empty_like(W) for W in self.W]

    def reset(self):
        pass

    def epoch(self):
        X, batch, W = self.problem.X, self.problem.batch_size, self.W
        for first in range(0, self.problem.n_rows, batch):
            a_prev = X[first:first + batch]
            acts, deltas = self.buffers[a_prev.shape[0]]
            for l in range(len(W)):
                np.matmul(a_prev, W[l], out=acts[l])
                a_prev = acts[l]
            for l in range(len(W) - 1, -1, -1):
                delta = acts[l]  # stands in for delta[l]: same shape, and no arithmetic is timed but products
                np.matmul((X[first:first + batch] if l == 0 else acts[l - 1]).T, delta, out=self.grads[l])
                if l > 0:
                    np.matmul(delta, W[l].T, out=deltas[l - 1])
        return float("nan")


SYSTEMS = {
    "fastbp": lambda problem: Fastbp(problem, "cython"),
    "invariant": lambda problem: Fastbp(problem, "cython", thread_invariant=True),
    "numpy": lambda problem: Fastbp(problem, "numpy"),
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
