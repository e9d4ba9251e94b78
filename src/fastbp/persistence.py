"""Saving and loading a model's weights, and the state of its training, as a plain `.npz` file, without pickle.

Layout (format version 6), one array per field:
  format             "fastbp.MLP"
  format_version     6 (version 1 files, which stop after `params`, version 2 files, which have no
                     `thread_invariant`, version 3 files, which have no model options, version 4 files,
                     which have no ensemble, and version 5 files, which have no inputs, still load)
  layer_sizes        int64 (n_layers + 1,)
  activation         str: one hidden activation name, or (n_hidden,) names, one per hidden layer
  output             str, an output name
  dtype              "float32" or "float64"
  params             (n_params,) of that dtype, laid out as `MLP.params`
  optimizer          str: "none" or an optimizer's name ("SGD", "Adam", "AdamW", "RMSprop", "Adagrad")
  optimizer_settings float64: the optimizer's settings in its constructor's order (booleans as 0 or 1), such
                     as SGD [learning_rate, momentum, nesterov, weight_decay] (a version 3 file's SGD has no
                     weight_decay: 0), Adam [learning_rate, beta_1, beta_2, epsilon]; none []
  optimizer_t        int64, the optimizer's step count
  optimizer_state    (k, n_params) of the model's dtype: the optimizer's state buffers in the core's order,
                     such as SGD's velocity or Adam's m and v (k = 0 before the first step)
  trainer            float64 [epochs, samples seen, learning rate] of the Trainer that saved it, or []
  thread_invariant   bool, the model's `thread_invariant` (False for older versions)
  dropout            float64: one rate, or (n_hidden,) rates                      (version 4; older: 0)
  loss               str, the loss (`MLP.loss_function`)                          (version 4; older: the output's)
  huber_delta        float64                                                      (version 4; older: 1)
  label_smoothing    float64                                                      (version 4; older: 0)
  init               str, the initialization scheme                               (version 4; older: "sklearn")
  ensemble_size      int64, the members of an ensemble                            (version 5; older: 1)
  ensemble           str, its form                                                (version 5; older: "batch")
  categories         int64 (n_categorical,), the cardinalities of X's last columns (version 6; older: none)
  embedding          str, the JSON of the embedding's settings (`to_dict`; bins included), "" for none
                                                                                  (version 6; older: none)

The model's options (dropout to embedding) are one field each, written and read by their records in
`fastbp.options.OPTIONS` (kind, version), and checked as `MLP` checks them. This module knows the file format
only; `fastbp.load` (in `fastbp.loading`) builds the model from what `read` returns. Loading uses
`allow_pickle=False` and checks every field, so a truncated, tampered or foreign file raises a ValueError that
says what is wrong instead of building a broken model or running code.
"""

import json
import os
import tempfile
import zipfile
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from fastbp import _validation as v
from fastbp import embeddings, optim
from fastbp._core import _optim
from fastbp._settings import SETTINGS, check_settings, option_settings
from fastbp.layout import ensemble_layout
from fastbp.options import DEFAULTS, OPTIONS, check_structure

FORMAT = "fastbp.MLP"
FORMAT_VERSION = 6
_FIELDS = ("format", "format_version", "layer_sizes", "activation", "output", "dtype", "params")
_TRAINING_FIELDS = ("optimizer", "optimizer_settings", "optimizer_t", "optimizer_state", "trainer")
# Each optimizer's settings, in the order the file stores them: its constructor's.
OPTIMIZER_SETTINGS = {name: cls.setting_names for name, cls in optim.OPTIMIZERS.items()}
BOOLEAN_SETTINGS = ("nesterov", "centered")  # stored as 0 or 1


class Counters(NamedTuple):
    """A Trainer's counters: epochs completed, samples seen (its ``t``), the next epoch's learning rate."""

    epoch: int
    t: int
    learning_rate: float


@dataclass(frozen=True)
class Saved:
    """What `read` found in a file: the architecture (layer_sizes, activation, output, dtype) as `MLP` takes
    it, thread_invariant, the flat params, the model's options (`MLP.options`: keyword arguments of `MLP`;
    empty for a file older than version 4), the optimizer as a `state_dict` (or None) and the trainer's
    `Counters` (or None)."""

    architecture: tuple
    thread_invariant: bool
    params: np.ndarray
    options: dict
    optimizer: dict | None = None
    trainer: Counters | None = None


def save(net, path, optimizer=None, trainer_counters=None):
    """Write `net`'s architecture and weights to `path` (an .npz file), replacing it atomically; with the
    optimizer's settings, step count and state, and a Trainer's `Counters`."""
    path = os.fspath(path)
    # What `read` refuses is refused here, before anything is written: the file would not load.
    if not np.isfinite(net.params).all():
        raise ValueError(f"cannot save {path}: the model's params contain NaN or infinity (fastbp.load refuses "
                         "such a file); train or set finite weights first")
    saved = None if optimizer is None else optimizer.state_dict()
    for name, buffer in ({} if saved is None else saved["state"]).items():
        if buffer.shape != (net.n_params,) or buffer.dtype != net.dtype:
            raise ValueError(f"cannot save {path}: the optimizer's {name} has shape {buffer.shape} and dtype "
                             f"{buffer.dtype}, not this model's ({net.n_params},) {net.dtype}: it holds another "
                             "model's state; reset() it first")
        if not np.isfinite(buffer).all():
            raise ValueError(f"cannot save {path}: the optimizer's {name} contains NaN or infinity (fastbp.load "
                             "refuses such a file); reset() it first")
    kind = "none" if saved is None else saved["name"]
    state = None if saved is None else saved["state"]
    arrays = {
        "format": np.array(FORMAT),
        "format_version": np.array(FORMAT_VERSION, dtype=np.int64),
        "layer_sizes": np.array(net.layer_sizes, dtype=np.int64),
        "activation": np.array(net.activation if isinstance(net.activation, str) else list(net.activation),
                               dtype=str),
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
        **{option.name: _encode(option, option.value_of(net)) for option in OPTIONS},
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


def _encode(option, value):
    """The array a file stores of an option's value (`fastbp.options.Option`'s kinds)."""
    if option.stored in ("rates", "number"):
        return np.array(value, dtype=np.float64)
    if option.stored == "count":
        return np.array(value, dtype=np.int64)
    if option.stored == "cardinalities":
        return np.array(value or [], dtype=np.int64)
    if option.stored == "settings":
        return np.array("" if value is None else json.dumps(value.to_dict()))
    return np.array(value)


def _decode(option, data, path):
    """An option's value from its field, checked for its kind (the value itself is checked as `MLP` checks it)."""
    value = _member(data, option.name, path)
    if option.stored in ("rates", "number"):
        if value.dtype != np.float64 or value.ndim > (1 if option.stored == "rates" else 0):
            what = "rate or 1-D array of rates" if option.stored == "rates" else "number"
            raise ValueError(f"{path}: field {option.name!r} must be a float64 {what}")
        return float(value) if value.ndim == 0 else value.tolist()
    if option.stored == "count":
        if value.shape != () or value.dtype.kind not in "iu":
            raise ValueError(f"{path}: field {option.name!r} must be an integer")
        return int(value)
    if option.stored == "cardinalities":
        if value.ndim != 1 or value.dtype.kind not in "iu":
            raise ValueError(f"{path}: field {option.name!r} must be a 1-D array of integers")
        return value.tolist() or None
    text = _string(data, option.name, path)
    if option.stored == "name":
        return text
    try:
        return embeddings.from_dict(json.loads(text)) if text else None
    except (json.JSONDecodeError, AttributeError, TypeError, ValueError) as exc:
        raise ValueError(f"{path}: field {option.name!r} is not an embedding's settings: {exc}") from exc


def save_training(trainer, path):
    """Write what `Trainer.restore` reads: the trainer's model, optimizer (settings, step count, state) and
    counters (epochs, samples seen, the next epoch's learning rate)."""
    save(trainer.net, path, trainer.optimizer, Counters(trainer.epoch, trainer.t, trainer.learning_rate))


def _check_size(data, name, path):
    """Refuse a member whose header declares more bytes than the archive holds for it, before reading it (a
    forged header would otherwise make NumPy allocate what it declares)."""
    try:
        info = data.zip.getinfo(name + ".npy")
        with data.zip.open(info) as member:
            version = np.lib.format.read_magic(member)
            shape, _, dtype = (np.lib.format.read_array_header_1_0(member) if version == (1, 0)
                               else np.lib.format.read_array_header_2_0(member))
    except (KeyError, ValueError, OSError, zipfile.BadZipFile, EOFError) as exc:
        raise ValueError(f"{path}: field {name!r} cannot be read: {exc}") from exc
    declared = int(np.prod(shape, dtype=object)) * dtype.itemsize
    if declared > info.file_size:
        raise ValueError(f"{path}: field {name!r} declares shape {shape} of {dtype} ({declared:,} bytes), but the "
                         f"file holds {info.file_size:,} bytes for it: truncated or forged")


def _member(data, name, path):
    """One array of the archive; a member that cannot be read is a ValueError naming the file."""
    _check_size(data, name, path)
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
            layer_sizes = v.check_layer_sizes([int(s) for s in sizes])
            activation = v.check_per_layer("activation", _strings(data, "activation", path), len(layer_sizes) - 2,
                                           v.check_activation)[0]
            architecture = (layer_sizes, activation, v.check_choice("output", _string(data, "output", path), v.OUTPUTS),
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
        options = _options(data, path, int(version))
    try:
        options, n_params = _check_options(architecture, options)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"{path}: invalid fastbp model file: {exc}") from exc
    dtype = architecture[3]
    _check_buffer(path, "params", params, (n_params,), dtype)
    if training is None:
        return Saved(architecture, thread_invariant, params, options)
    return Saved(architecture, thread_invariant, params, options,
                 *_check_training(path, n_params, dtype, int(version), *training))


def _strings(data, name, path):
    """A string field, or a 1-D array of strings (returned as a list)."""
    value = _member(data, name, path)
    if value.dtype.kind != "U" or value.ndim > 1:
        raise ValueError(f"{path}: field {name!r} must be a string or a 1-D array of strings")
    return str(value) if value.ndim == 0 else value.tolist()


def _options(data, path, version):
    """The options a file of format `version` stores (`fastbp.options.OPTIONS` since their versions)."""
    stored = [option for option in OPTIONS if option.since <= version]
    missing = [option.name for option in stored if option.name not in data.files]
    if missing:
        raise ValueError(f"{path}: version {version} file without fields {missing}")
    return {option.name: _decode(option, data, path) for option in stored}


def _check_options(architecture, stored):
    """(options, n_params) of a file's architecture and stored options, every option checked as `MLP` checks it
    (the loss as `MLP.options` gives it: None for the output's own)."""
    layer_sizes, activation, output, dtype = architecture
    options = {**DEFAULTS, **stored}
    settings = check_settings(layer_sizes, output,
                              {"activation": activation, "backend": "cython", **option_settings(options)}, ("cython",))
    v.check_choice("init", options["init"], v.INITS)
    structure = check_structure(layer_sizes, dtype, options["ensemble_size"], options["ensemble"],
                                options["embedding"], options["categories"])
    if "loss" in stored:
        stored["loss"] = None if settings["loss_function"] == v.LOSSES[output][0] else settings["loss_function"]
    return stored, structure.layout.n_params


def _check_buffer(path, name, array, shape, dtype):
    if array.shape != shape or array.dtype != dtype:
        raise ValueError(f"{path}: {name} have shape {array.shape} and dtype {array.dtype}; the architecture "
                         f"needs {shape} {dtype}")
    if not np.isfinite(array).all():
        raise ValueError(f"{path}: {name} contain NaN or infinity")


def _check_training(path, n_params, dtype, version, kind, settings, t, state, trainer):
    """(optimizer, trainer counters) of a version 2 file or later, checked against the network's size and
    dtype."""
    optimizer = None
    if kind != "none":
        if kind not in OPTIMIZER_SETTINGS:
            raise ValueError(f"{path}: unknown optimizer {kind!r} (expected 'none' or one of "
                             f"{', '.join(map(repr, OPTIMIZER_SETTINGS))})")
        names = OPTIMIZER_SETTINGS[kind]
        if version < 4 and kind == "SGD":
            names = names[:3]  # before weight_decay: the optimizer's default, 0, is used
        _check_buffer(path, "optimizer_settings", settings, (len(names),), np.float64)
        if t.shape != () or t.dtype.kind not in "iu" or int(t) < 0:
            raise ValueError(f"{path}: optimizer_t must be a non-negative integer")
        state_names = _optim.STATE_NAMES[kind]
        if state.shape[0] not in (0, len(state_names)):
            raise ValueError(f"{path}: optimizer_state has {state.shape[0]} rows; {kind} keeps {len(state_names)}")
        _check_buffer(path, "optimizer_state", state, (state.shape[0], n_params), dtype)
        values = {name: bool(value) if name in BOOLEAN_SETTINGS else value
                  for name, value in zip(names, settings.tolist())}
        optimizer = {"name": kind, "settings": values, "t": int(t),
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



def upgrade_pickle(state):
    """The pickled `MLP.__dict__` (less its params) of an older fastbp, in this one's form."""
    if "_settings" not in state:  # a pickle of fastbp before issue 27 kept every setting as a plain attribute
        old = dict(state, loss_function=state.get("loss_function"), dropout=state.get("dropout", 0.0),
                   huber_delta=state.get("huber_delta", 1.0), label_smoothing=state.get("label_smoothing", 0.0))
        state = {"_layer_sizes": old["layer_sizes"], "_output": old["output"], "_dtype": old["dtype"],
                 "_n_threads": old.get("_n_threads", old.get("n_threads")),
                 "_thread_invariant": old.get("thread_invariant", False), "_init": old.get("init", "sklearn"),
                 "_settings": {name: old[name] for name in SETTINGS}}
    if "_layout" not in state:  # fastbp before ensembles: a plain MLP
        state.update(_ensemble_size=1, _ensemble="batch", _layout=ensemble_layout(state["_layer_sizes"], 1, ""))
    state.setdefault("_embedding", None)  # fastbp before inputs
    state.setdefault("_categories", None)
    return state
