"""The lbfgs solver of the drop-ins: SciPy's L-BFGS-B on the model's objective and gradient over the flat
parameters (over every rank's rows with `comm`)."""

import functools
import itertools

import numpy as np
import scipy.optimize
from sklearn.exceptions import ConvergenceWarning

from fastbp import _validation as v
from fastbp import distributed
from fastbp._threads import single_threaded_blas
from fastbp.epochs import DivergenceError
from fastbp.estimators._sklearn import warn
from fastbp.estimators.params import NON_FINITE_WEIGHTS


class LbfgsFit:
    """The lbfgs fit of `fastbp.estimators.base.BaseMLP`."""

    def _fit_lbfgs(self, X, Y, sample_weight):
        net, comm = self._net, self.comm
        batch = net.check_batch(X, Y, sample_weight)
        alpha = v.check_float("alpha", self.alpha, minimum=0.0)
        if comm is None:
            def loss_and_grad():
                return net.batch_loss_and_grad(batch, alpha)
        else:  # every rank runs the same L-BFGS-B iterations on the objective of all the ranks' rows
            distributed.start(comm, net)
            loss_and_grad = functools.partial(distributed.GradientSum(comm, net), batch.X, batch.Y,
                                              batch.sample_weight, distributed.total(comm, batch.weight_sum), alpha)
        start = net.params.copy()

        def objective(x):
            net.params[...] = x
            loss, grad = loss_and_grad()
            return loss, np.array(grad, dtype=np.float64)  # a copy: SciPy keeps it, the core reuses its buffer

        iteration = itertools.count(1)

        def report(intermediate_result):
            print("Iteration %d, loss = %.8f" % (next(iteration), intermediate_result.fun))

        # BLAS at one thread for the whole solve, not only inside the core: L-BFGS-B's own small BLAS calls,
        # threaded between the core's, took 3x to 10x longer than the whole fit on a loaded 2-core machine.
        with np.errstate(over="ignore", invalid="ignore"), single_threaded_blas():  # non-finite: see below
            result = scipy.optimize.minimize(
                objective, start.astype(np.float64), method="L-BFGS-B", jac=True,
                callback=report if self.verbose and (comm is None or comm.rank == 0) else None,
                options={"maxfun": self.max_fun, "maxiter": self.max_iter, "gtol": self.tol})
        net.params[...] = result.x
        if not np.isfinite(net.params).all() or not np.isfinite(result.fun):
            raise DivergenceError(f"{NON_FINITE_WEIGHTS} The estimator is as it was before this call.")
        self.n_iter_ = min(result.nit, self.max_iter)
        self.loss_ = float(result.fun)
        if result.status != 0:
            warn(f"lbfgs failed to converge after {self.n_iter_} iteration(s) (status={result.status}):\n"
                 f"{result.message}\n\nIncrease the number of iterations (max_iter) or scale the data.",
                 ConvergenceWarning, "fastbp.estimators")
