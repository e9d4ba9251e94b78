"""Saving and loading a model's weights, and the state of its training, as a plain `.npz` file, without pickle.

Layout (format version 3), one array per field:
  format             "fastbp.MLP"
  format_version     3 (version 1 files, which stop after `params`, and version 2 files, which have no
                     `thread_invariant`, still load)
  layer_sizes        int64 (n_layers + 1,)
  activation         str, a hidden activation name;  output  str, an output name
  dtype              "float32" or "float64"
  params             (n_params,) of that dtype, laid out as `MLP.params`
  optimizer          str: "none", "SGD" or "Adam"
  optimizer_settings float64: SGD [learning_rate, momentum, nesterov], Adam [learning_rate, beta_1, beta_2,
                     epsilon], none []
  optimizer_t        int64, the optimizer's step count
  optimizer_state    (k, n_params) of the model's dtype: SGD's velocity or Adam's m and v (k = 0 before the
                     first step)
  trainer            float64 [epochs, samples seen, learning rate] of the Trainer that saved it, or []
  thread_invariant   bool, the model's `thread_invariant` (False for older versions)

This module knows the file format only; `fastbp.load` (in `fastbp.network`) builds the model from what `read`
returns. Loading uses `allow_pickle=False` and checks every field, so a truncated, tampered or foreign file raises a
ValueError that says what is wrong instead of building a broken model or running code.
"""

import os
import tempfile
import zipfile
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from fastbp import _validation as v
from fastbp import optim
from fastbp._core import _optim
from fastbp._core._network import CoreNet

FORMAT = "fastbp.MLP"
FORMAT_VERSION = 3
_FIELDS = ("format", "format_version", "layer_sizes", "activation", "output", "dtype", "params")
_TRAINING_FIELDS = ("optimizer", "optimizer_settings", "optimizer_t", "optimizer_state", "trainer")
# Each optimizer's settings, in the order the file stores them: its constructor's.
OPTIMIZER_SETTINGS = {name: cls.setting_names for name, cls in optim.OPTIMIZERS.items()}


class Counters(NamedTuple):
    """A Trainer's counters: epochs completed, samples seen (its ``t``), the next epoch's learning rate."""

    epoch: int
    t: int
    learning_rate: float


@dataclass(frozen=True)
class Saved:
    """What `read` found in a file: the architecture (layer_sizes, activation, output, dtype) as `MLP` takes
    it, thread_invariant, the flat params, the optimizer as a `state_dict` (or None) and the trainer's
    `Counters` (or None)."""

    architecture: tuple
    thread_invariant: bool
    params: np.ndarray
    optimizer: dict | None = None
    trainer: Counters | None = None


def save(net, path, optimizer=None, trainer_counters=None):
    """Write `net`'s architecture and weights to `path` (an .npz file), replacing it atomically; with the
    optimizer's settings, step count and state, and a Trainer's `Counters`."""
    path = os.fspath(path)
    saved = None if optimizer is None else optimizer.state_dict()
    kind = "none" if saved is None else saved["name"]
    state = None if saved is None else saved["state"]
    arrays = {
        "format": np.array(FORMAT),
        "format_version": np.array(FORMAT_VERSION, dtype=np.int64),
        "layer_sizes": np.array(net.layer_sizes, dtype=np.int64),
        "activation": np.array(net.activation),
        "output": np.array(net.output),
        "dtype": np.array(net.dtype.name),
        "params": net.params,
        "optimizer": np.array(kind),
        "optimizer_settings": np.array([float(saved["settings"][name]) for name in OPTIMIZER_SETTINGS.get(kind, ())]),
        "optimizer_t": np.array(0 if saved is None else saved["t"], dtype=np.int64),
        "optimizer_state": np.array([state[name] for name in optimizer.state_names] if state else
                                    np.empty((0, net.n_params)), dtype=net.dtype),
        "trainer": np.array(trainer_counters or (), dtype=np.float64),
        "thread_invariant": np.array(bool(net.thread_invariant)),
    }
    # Write beside the target, then rename: a crash never leaves a half-written file under `path`.
    fd, tmp = tempfile.mkstemp(prefix=".fastbp-", suffix=".npz", dir=os.path.dirname(os.path.abspath(path)))
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(f, **arrays)
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def save_training(trainer, path):
    """Write what `Trainer.restore` reads: the trainer's model, optimizer (settings, step count, state) and
    counters (epochs, samples seen, the next epoch's learning rate)."""
    save(trainer.net, path, trainer.optimizer, Counters(trainer.epoch, trainer.t, trainer.learning_rate))


def _member(data, name, path):
    """One array of the archive; a member that cannot be read is a ValueError naming the file."""
    try:
        return data[name]
    except ValueError as exc:  # for example a pickled object array, refused with allow_pickle=False
        raise ValueError(f"{path}: field {name!r} cannot be read: {exc}") from exc
    except (OSError, zipfile.BadZipFile, EOFError) as exc:  # a member cut short
        raise ValueError(f"{path}: truncated or corrupt file ({exc})") from exc


def _string(data, name, path):
    value = _member(data, name, path)
    if value.dtype.kind != "U" or value.shape != ():
        raise ValueError(f"{path}: field {name!r} must be a string")
    return str(value)


def read(path):
    """Everything in a file written by `save`, checked, as a `Saved`. `fastbp.load` builds the model."""
    try:
        data = np.load(os.fspath(path), allow_pickle=False)
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as exc:
        raise ValueError(f"{path}: not a readable fastbp .npz file ({exc})") from exc
    if not isinstance(data, np.lib.npyio.NpzFile):
        raise ValueError(f"{path}: not an .npz archive")
    with data:
        missing = [name for name in _FIELDS if name not in data.files]
        if missing:
            raise ValueError(f"{path}: not a fastbp model file (missing fields {missing})")
        if _string(data, "format", path) != FORMAT:
            raise ValueError(f"{path}: not a fastbp model file (format {_string(data, 'format', path)!r})")
        version = _member(data, "format_version", path)
        if version.shape != () or version.dtype.kind not in "iu" or int(version) not in range(1, FORMAT_VERSION + 1):
            raise ValueError(f"{path}: format version {version!r} is not supported (this fastbp reads "
                             f"versions 1 to {FORMAT_VERSION})")
        sizes = _member(data, "layer_sizes", path)
        if sizes.ndim != 1 or sizes.dtype.kind not in "iu":
            raise ValueError(f"{path}: field 'layer_sizes' must be a 1-D integer array")
        try:
            architecture = (v.check_layer_sizes([int(s) for s in sizes]),
                            v.check_choice("activation", _string(data, "activation", path), v.HIDDEN_ACTIVATIONS,
                                           v.ACTIVATION_ALIASES),
                            v.check_choice("output", _string(data, "output", path), v.OUTPUTS),
                            v.check_dtype(_string(data, "dtype", path)))
        except (ValueError, TypeError) as exc:
            raise ValueError(f"{path}: invalid fastbp model file: {exc}") from exc
        params = _member(data, "params", path)
        training = None
        if int(version) >= 2:
            missing = [name for name in _TRAINING_FIELDS if name not in data.files]
            if missing:
                raise ValueError(f"{path}: version 2 file without fields {missing}")
            training = (_string(data, "optimizer", path),
                        *(_member(data, name, path) for name in _TRAINING_FIELDS[1:]))
        thread_invariant = False
        if int(version) >= 3:
            if "thread_invariant" not in data.files:
                raise ValueError(f"{path}: version 3 file without field 'thread_invariant'")
            flag = _member(data, "thread_invariant", path)
            if flag.shape != () or flag.dtype != np.bool_:
                raise ValueError(f"{path}: field 'thread_invariant' must be a bool")
            thread_invariant = bool(flag)
    layer_sizes, activation, output, dtype = architecture
    n_params = CoreNet(layer_sizes, [activation] * (len(layer_sizes) - 2), output).n_params  # the core's layout
    _check_buffer(path, "params", params, (n_params,), dtype)
    if training is None:
        return Saved(architecture, thread_invariant, params)
    return Saved(architecture, thread_invariant, params, *_check_training(path, n_params, dtype, *training))


def _check_buffer(path, name, array, shape, dtype):
    if array.shape != shape or array.dtype != dtype:
        raise ValueError(f"{path}: {name} have shape {array.shape} and dtype {array.dtype}; the architecture "
                         f"needs {shape} {dtype}")
    if not np.isfinite(array).all():
        raise ValueError(f"{path}: {name} contain NaN or infinity")


def _check_training(path, n_params, dtype, kind, settings, t, state, trainer):
    """(optimizer, trainer counters) of a version 2 file, checked against the network's size and dtype."""
    optimizer = None
    if kind != "none":
        if kind not in OPTIMIZER_SETTINGS:
            raise ValueError(f"{path}: unknown optimizer {kind!r} (expected 'none', 'SGD' or 'Adam')")
        names = OPTIMIZER_SETTINGS[kind]
        _check_buffer(path, "optimizer_settings", settings, (len(names),), np.float64)
        if t.shape != () or t.dtype.kind not in "iu" or int(t) < 0:
            raise ValueError(f"{path}: optimizer_t must be a non-negative integer")
        state_names = _optim.STATE_NAMES[kind]
        if state.shape[0] not in (0, len(state_names)):
            raise ValueError(f"{path}: optimizer_state has {state.shape[0]} rows; {kind} keeps {len(state_names)}")
        _check_buffer(path, "optimizer_state", state, (state.shape[0], n_params), dtype)
        optimizer = {"name": kind, "settings": dict(zip(names, settings.tolist())), "t": int(t),
                     "state": dict(zip(state_names, state)) if state.shape[0] else {}}
    counters = None
    if trainer.size:
        _check_buffer(path, "trainer", trainer, (3,), np.float64)
        epochs, samples, learning_rate = trainer.tolist()
        if epochs < 0 or samples < 0 or epochs != int(epochs) or samples != int(samples) or learning_rate <= 0:
            raise ValueError(f"{path}: trainer counters {trainer.tolist()} are not (epochs, samples, learning rate)")
        counters = Counters(int(epochs), int(samples), learning_rate)
    return optimizer, counters


def check_path(name, path):
    """A path-like for a file to write, whose directory exists."""
    try:
        path = os.fspath(path)
    except TypeError as exc:
        raise TypeError(f"{name} must be a path, got {path!r}") from exc
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        raise ValueError(f"{name}: directory {directory!r} does not exist")
    return path

