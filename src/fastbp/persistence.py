"""Saving and loading a model's weights as a plain `.npz` file, without pickle.

Layout (format version 1), one array per field:
  format         "fastbp.MLP"
  format_version 1
  layer_sizes    int64 (n_layers + 1,)
  activation     str, a hidden activation name;  output  str, an output name
  dtype          "float32" or "float64"
  params         (n_params,) of that dtype, laid out as `MLP.params`

Loading uses `allow_pickle=False` and checks every field, so a truncated, tampered or foreign file raises a
ValueError that says what is wrong instead of building a broken model or running code.
"""

import os
import tempfile
import zipfile

import numpy as np

FORMAT = "fastbp.MLP"
FORMAT_VERSION = 1
_FIELDS = ("format", "format_version", "layer_sizes", "activation", "output", "dtype", "params")


def save(net, path):
    """Write `net`'s architecture and weights to `path` (an .npz file), replacing it atomically."""
    path = os.fspath(path)
    arrays = {
        "format": np.array(FORMAT),
        "format_version": np.array(FORMAT_VERSION, dtype=np.int64),
        "layer_sizes": np.array(net.layer_sizes, dtype=np.int64),
        "activation": np.array(net.activation),
        "output": np.array(net.output),
        "dtype": np.array(net.dtype.name),
        "params": net.params,
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


def load(path, backend="cython", n_threads=None):
    """The `MLP` saved at `path` by `save` (or `MLP.save`), with the given backend and threads."""
    from fastbp.network import MLP

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
        if version.shape != () or version.dtype.kind not in "iu" or int(version) != FORMAT_VERSION:
            raise ValueError(f"{path}: format version {version!r} is not supported (this fastbp reads "
                             f"version {FORMAT_VERSION})")
        sizes = _member(data, "layer_sizes", path)
        if sizes.ndim != 1 or sizes.dtype.kind not in "iu":
            raise ValueError(f"{path}: field 'layer_sizes' must be a 1-D integer array")
        architecture = ([int(s) for s in sizes], _string(data, "activation", path), _string(data, "output", path),
                        _string(data, "dtype", path))
        params = _member(data, "params", path)
    try:
        net = MLP(*architecture, 0, backend, n_threads)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"{path}: invalid fastbp model file: {exc}") from exc
    if params.shape != net.params.shape or params.dtype != net.dtype:
        raise ValueError(f"{path}: params have shape {params.shape} and dtype {params.dtype}; the architecture "
                         f"needs {net.params.shape} {net.dtype}")
    if not np.isfinite(params).all():
        raise ValueError(f"{path}: params contain NaN or infinity")
    net.params[...] = params
    return net


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

