"""PyTorch as an independent oracle: every activation, loss, label smoothing and dropout mask gives the forward
pass and gradient of torch autograd, and AdamW, RMSprop, Adagrad, SGD (with weight decay), clipping and every
per-step schedule follow torch.optim and its schedulers step for step (float64). The network in torch is
built from the same weights: nn.Linear's weight is fastbp's coefs[l] transposed."""

import numpy as np
import pytest

import fastbp
from fastbp import reference_network, schedules

torch = pytest.importorskip("torch", reason="PyTorch is the oracle here: pip install torch (CPU)")
F = torch.nn.functional

TORCH_ACTIVATIONS = {
    "identity": lambda z: z, "logistic": torch.sigmoid, "tanh": torch.tanh, "relu": F.relu,
    "leaky_relu": F.leaky_relu, "elu": F.elu, "selu": F.selu, "softplus": F.softplus,
    "gelu": F.gelu, "gelu_tanh": lambda z: F.gelu(z, approximate="tanh"), "silu": F.silu, "mish": F.mish,
}


def torch_params(net):
    """[W0^T, b0, W1^T, b1, ...] as float64 leaf tensors that require grad."""
    out = []
    for W, b in zip(net.coefs, net.intercepts):
        out += [torch.tensor(W.T.copy(), dtype=torch.float64, requires_grad=True),
                torch.tensor(b.copy(), dtype=torch.float64, requires_grad=True)]
    return out


def torch_logits(net, params, X, masks=None):
    a = torch.as_tensor(X)
    n_layers = len(params) // 2
    for l in range(n_layers):
        z = F.linear(a, params[2 * l], params[2 * l + 1])
        if l == n_layers - 1:
            return z
        a = TORCH_ACTIVATIONS[net.activations[l]](z)
        if masks is not None and masks[l] is not None:
            a = a * torch.as_tensor(masks[l])


def torch_loss(net, z, Y):
    """fastbp's objective, mean over the rows of each row's loss summed over its outputs, in torch's losses."""
    Y = torch.as_tensor(Y)
    n, e = z.shape[0], net.label_smoothing
    if net.output == "logistic":
        return F.binary_cross_entropy_with_logits(z, Y * (1 - e) + e / 2, reduction="sum") / n
    if net.output == "softmax":
        return F.cross_entropy(z, Y.argmax(dim=1), label_smoothing=e)
    if net.output == "exp":  # half the Poisson deviance differs from torch's NLL by a constant of y
        return F.poisson_nll_loss(z, Y, log_input=True, full=False, reduction="sum") / n
    if net.loss_function == "huber":
        return F.huber_loss(z, Y, delta=net.huber_delta, reduction="sum") / n
    if net.loss_function == "absolute_error":
        return F.l1_loss(z, Y, reduction="sum") / n
    return F.mse_loss(z, Y, reduction="sum") / (2 * n)


def flat_grad(params):
    """The torch gradients in fastbp's layout: every layer's coefficients (row-major, (n_in, n_out)), then
    every layer's intercepts."""
    coefs = [p.grad.numpy().T.ravel() for p in params[0::2]]
    return np.concatenate(coefs + [p.grad.numpy() for p in params[1::2]])


def targets(output, n, k, rng):
    if output == "softmax":
        return np.eye(k)[rng.randint(0, k, n)]
    if output == "logistic":
        return (rng.rand(n, k) > 0.5).astype(float)
    if output == "exp":
        return rng.poisson(2.0, (n, k)).astype(float)
    return rng.randn(n, k)


def check_against_torch(net, X, Y, dropout_seed=None):
    params = torch_params(net)
    masks = reference_network.dropout_masks(net.layout, net.spec(), X.shape[0],
                                            None if dropout_seed is None else (dropout_seed, 0))
    z = torch_logits(net, params, X, masks)
    loss = torch_loss(net, z, Y)
    loss.backward()
    ours, grad = net.loss_and_grad(X, Y, dropout_seed=dropout_seed)
    if net.output != "exp":
        assert ours == pytest.approx(loss.item(), rel=1e-12)
    np.testing.assert_allclose(grad, flat_grad(params), rtol=1e-10, atol=1e-13)
    if dropout_seed is None:
        np.testing.assert_allclose(net.logits(X), z.detach().numpy(), rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("activation", list(TORCH_ACTIVATIONS))
@pytest.mark.parametrize("backend", ["cython", "numpy"])
def test_every_activation_gives_torch_autograds_forward_and_gradient(activation, backend):
    rng = np.random.RandomState(0)
    net = fastbp.MLP([5, 9, 7, 3], [activation, activation], "softmax", random_state=0, backend=backend)
    X = 2 * rng.randn(30, 5)
    check_against_torch(net, X, targets("softmax", 30, 3, rng))


@pytest.mark.parametrize("output, loss, smoothing", [
    ("logistic", None, 0.0), ("logistic", None, 0.15), ("softmax", None, 0.0), ("softmax", None, 0.2),
    ("identity", None, 0.0), ("identity", "huber", 0.0), ("identity", "absolute_error", 0.0), ("exp", None, 0.0)])
@pytest.mark.parametrize("backend", ["cython", "numpy"])
def test_every_loss_and_label_smoothing_gives_torchs(output, loss, smoothing, backend):
    rng = np.random.RandomState(1)
    net = fastbp.MLP([4, 8, 3], "silu", output, random_state=1, backend=backend, loss=loss, label_smoothing=smoothing,
                     huber_delta=0.4)
    check_against_torch(net, 1.5 * rng.randn(25, 4), targets(output, 25, 3, rng))


@pytest.mark.parametrize("backend", ["cython", "numpy"])
def test_dropout_masks_give_torchs_forward_and_gradient_with_those_masks(backend):
    rng = np.random.RandomState(2)
    net = fastbp.MLP([6, 10, 8, 2], ["gelu", "elu"], "logistic", dropout=[0.3, 0.6], random_state=2, backend=backend)
    check_against_torch(net, rng.randn(40, 6), targets("logistic", 40, 2, rng), dropout_seed=99)


# --- optimizers, clipping and schedules: trajectories -----------------------------------------------------------


def torch_schedule(schedule, optimizer):
    lr = torch.optim.lr_scheduler
    if isinstance(schedule, schedules.Exponential):
        return lr.ExponentialLR(optimizer, schedule.gamma)
    if isinstance(schedule, schedules.WarmupCosine):
        w = schedule.warmup_steps
        return lr.SequentialLR(optimizer, [
            lr.LinearLR(optimizer, start_factor=1 / w, end_factor=1.0, total_iters=w - 1),
            lr.CosineAnnealingLR(optimizer, T_max=schedule.total_steps - w, eta_min=schedule.min_lr)], milestones=[w])
    if isinstance(schedule, schedules.OneCycle):
        return lr.OneCycleLR(optimizer, schedule.max_lr, total_steps=schedule.total_steps,
                             pct_start=schedule.pct_start, anneal_strategy="cos", cycle_momentum=False)
    return None


OPTIMIZERS = {  # name: (fastbp optimizer, torch optimizer over (decayed coefficients, intercepts))
    "adamw": (lambda: fastbp.AdamW(0.01, beta_1=0.8, beta_2=0.99, epsilon=1e-7, weight_decay=0.1),
              lambda groups: torch.optim.AdamW(groups(0.1), lr=0.01, betas=(0.8, 0.99), eps=1e-7)),
    "rmsprop": (lambda: fastbp.RMSprop(0.003),
                lambda groups: torch.optim.RMSprop(groups(0.0), lr=0.003)),
    "rmsprop-centered-momentum": (
        lambda: fastbp.RMSprop(0.002, rho=0.9, epsilon=1e-6, momentum=0.7, centered=True),
        lambda groups: torch.optim.RMSprop(groups(0.0), lr=0.002, alpha=0.9, eps=1e-6, momentum=0.7, centered=True)),
    "adagrad": (lambda: fastbp.Adagrad(0.05, epsilon=1e-9),
                lambda groups: torch.optim.Adagrad(groups(0.0), lr=0.05, eps=1e-9)),
    # Decoupled decay and torch's L2 decay are one update without momentum: p (1 - lr wd) - lr g.
    "sgd-weight-decay": (lambda: fastbp.SGD(0.05, momentum=0.0, weight_decay=0.2),
                         lambda groups: torch.optim.SGD(groups(0.2), lr=0.05)),
    # scikit-learn's velocity form of (Nesterov) momentum is torch's at a constant rate.
    "sgd-nesterov": (lambda: fastbp.SGD(0.05, momentum=0.9, nesterov=True),
                     lambda groups: torch.optim.SGD(groups(0.0), lr=0.05, momentum=0.9, nesterov=True)),
}
SCHEDULES = {"constant": schedules.Constant(), "exponential": schedules.Exponential(0.995),
             "warmup-cosine": schedules.WarmupCosine(30, 320, min_lr=1e-4), "one-cycle": schedules.OneCycle(0.02, 320)}
CASES = [(o, s) for o in OPTIMIZERS for s in SCHEDULES if not (o == "sgd-nesterov" and s != "constant")]


@pytest.mark.parametrize("optimizer, schedule", CASES)
@pytest.mark.parametrize("clip", [None, 0.05], ids=["unclipped", "clipped"])
@pytest.mark.parametrize("backend", ["cython", "numpy"])
def test_three_hundred_steps_follow_torch_optim_and_its_scheduler(optimizer, schedule, clip, backend):
    make_ours, make_theirs = OPTIMIZERS[optimizer]
    rng = np.random.RandomState(3)
    X = rng.randn(64, 5)
    Y = targets("softmax", 64, 3, rng)
    net = fastbp.MLP([5, 8, 6, 3], ["tanh", "gelu"], "softmax", random_state=3, backend=backend)
    params = torch_params(net)

    def groups(weight_decay):  # decay (and L2) on the coefficients, not on the intercepts
        return [{"params": params[0::2], "weight_decay": weight_decay}, {"params": params[1::2], "weight_decay": 0.0}]

    theirs = make_theirs(groups)
    scheduler = torch_schedule(SCHEDULES[schedule], theirs)
    epochs, batch = 40, 8  # 8 steps an epoch, 320 in all
    trainer = fastbp.Trainer(net, make_ours(), batch_size=batch, max_epochs=epochs, shuffle=False,
                             schedule=SCHEDULES[schedule], clip_norm=clip)
    history = trainer.fit(X, Y)
    rates = []
    for _ in range(epochs):
        for first in range(0, 64, batch):
            theirs.zero_grad()
            torch_loss(net, torch_logits(net, params, X[first:first + batch]), Y[first:first + batch]).backward()
            if clip is not None:
                torch.nn.utils.clip_grad_norm_(params, clip)
            rates.append(theirs.param_groups[0]["lr"])
            theirs.step()
            if scheduler is not None:
                scheduler.step()
    expected = np.concatenate([p.detach().numpy().T.ravel() for p in params[0::2]]
                              + [p.detach().numpy() for p in params[1::2]])
    scale = np.abs(expected).max()
    np.testing.assert_allclose(net.params, expected, rtol=1e-10, atol=1e-10 * scale)
    np.testing.assert_allclose(history.learning_rate, rates[batch - 1::batch], rtol=1e-12)
    assert not np.allclose(net.params, fastbp.MLP([5, 8, 6, 3], ["tanh", "gelu"], "softmax", random_state=3).params)


@pytest.mark.parametrize("name", ["warmup-cosine", "one-cycle", "exponential"])
def test_every_schedules_rate_at_step_t_is_torchs(name):
    schedule = SCHEDULES[name]
    w = torch.zeros(1, requires_grad=True)
    optimizer = torch.optim.SGD([w], lr=0.01)
    scheduler = torch_schedule(schedule, optimizer)
    for t in range(320):
        assert schedule.rate(t, 0.01) == pytest.approx(optimizer.param_groups[0]["lr"], rel=1e-12, abs=1e-18), t
        optimizer.step()
        scheduler.step()


# --- init ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("init, draw", [
    ("torch", lambda W: torch.nn.Linear(W.shape[1], W.shape[0]).weight),
    ("glorot_uniform", torch.nn.init.xavier_uniform_), ("glorot_normal", torch.nn.init.xavier_normal_),
    ("he_uniform", lambda W: torch.nn.init.kaiming_uniform_(W, nonlinearity="relu")),
    ("he_normal", lambda W: torch.nn.init.kaiming_normal_(W, nonlinearity="relu")),
    ("lecun_normal", lambda W: torch.nn.init.normal_(W, std=1 / np.sqrt(W.shape[1])))])
def test_init_schemes_draw_torchs_distributions(init, draw):
    """Two samples of 120 000 weights, ours and torch's, from one distribution (Kolmogorov-Smirnov)."""
    from scipy.stats import ks_2samp

    torch.manual_seed(0)
    net = fastbp.MLP([400, 300, 1], init=init, random_state=0)
    theirs = draw(torch.empty(300, 400, dtype=torch.float64)).detach().numpy().ravel()
    assert ks_2samp(net.coefs[0].ravel(), theirs).pvalue > 1e-3
    if init == "torch":  # nn.Linear's bias: U(+-1 / sqrt(fan_in))
        bias = torch.nn.Linear(400, 300).bias.detach().numpy()
        assert np.abs(net.intercepts[0]).max() <= 1 / np.sqrt(400) and np.abs(bias).max() <= 1 / np.sqrt(400)
