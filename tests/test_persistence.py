"""Saving and loading models as .npz without pickle."""

import numpy as np
import pytest

import fastbp


def test_round_trip_is_bitwise_exact(tmp_path, dtype):
    net = fastbp.MLP([4, 3, 2], activation="tanh", output="softmax", dtype=dtype, random_state=1)
    path = tmp_path / "model.npz"
    net.save(path)
    loaded = fastbp.load(path, backend="numpy")
    assert (loaded.layer_sizes, loaded.activation, loaded.output, loaded.dtype) == \
        (net.layer_sizes, "tanh", "softmax", np.dtype(dtype))
    assert loaded.backend == "numpy"
    np.testing.assert_array_equal(loaded.params, net.params)


def rewrite(path, **changes):
    with np.load(path) as data:
        fields = dict(data)
    fields.update(changes)
    for key in [k for k, value in changes.items() if value is None]:
        del fields[key]
    np.savez(path, **fields)


@pytest.mark.parametrize("changes, message", [
    (dict(params=np.zeros(3)), r"params have shape \(3,\)"),
    (dict(params=np.full(23, np.nan)), "NaN or infinity"),
    (dict(format=np.array("something.else")), "not a fastbp model file"),
    (dict(format_version=np.array(99)), "format version .* is not supported"),
    (dict(layer_sizes=np.array([4, 0, 2])), r"layer_sizes\[1\] must be >= 1"),
    (dict(activation=np.array("swish")), "activation must be one of"),
    (dict(dtype=np.array("int8")), "dtype must be float32 or float64"),
    (dict(output=None), r"missing fields \['output'\]"),
    (dict(params=np.array([object()] * 23)), "Object arrays cannot be loaded"),
])
def test_tampered_files_are_refused_with_the_reason(tmp_path, changes, message):
    path = tmp_path / "model.npz"
    fastbp.MLP([4, 3, 2], random_state=0).save(path)
    rewrite(path, **changes)
    with pytest.raises(ValueError, match=message):
        fastbp.load(path)


def test_truncated_and_foreign_files_are_refused(tmp_path):
    path = tmp_path / "model.npz"
    fastbp.MLP([4, 3, 2], random_state=0).save(path)
    content = path.read_bytes()
    path.write_bytes(content[: len(content) // 2])
    with pytest.raises(ValueError, match="model.npz"):
        fastbp.load(path)
    other = tmp_path / "other.npy"
    np.save(other, np.arange(3))
    with pytest.raises(ValueError, match="not an .npz archive"):
        fastbp.load(other)
    with pytest.raises(ValueError, match="not a readable"):
        fastbp.load(tmp_path / "missing.npz")
