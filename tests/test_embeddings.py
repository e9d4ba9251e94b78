"""`fastbp.embeddings.compute_bins`: bins worked out by hand, and bad input refused by name (the PyTorch oracle
is in test_stage_oracle.py)."""

import numpy as np
import pytest

import fastbp


def test_bins_are_the_quantiles_with_repeats_removed():
    X = np.column_stack([np.arange(9.0), [0, 0, 0, 0, 0, 0, 1, 1, 2]])
    edges = fastbp.embeddings.compute_bins(X, n_bins=4)
    # Quantiles at 0, 1/4, 1/2, 3/4, 1 of 0..8 are 0, 2, 4, 6, 8; of the second column 0, 0, 0, 1, 2.
    assert [e.tolist() for e in edges] == [[0.0, 2.0, 4.0, 6.0, 8.0], [0.0, 1.0, 2.0]]


@pytest.mark.parametrize("X, n_bins, error, message", [
    (np.ones((5, 2)), 3, ValueError, r"columns \[0, 1\] hold a single value"),
    (np.arange(10.0).reshape(5, 2), 5, ValueError, r"n_bins must be less than the number of rows \(5\)"),
    (np.arange(10.0).reshape(5, 2), 1, ValueError, "n_bins must be >= 2"),
    (np.arange(10.0).reshape(5, 2), 2.5, TypeError, "n_bins must be an integer"),
    (np.array([[1.0, np.nan], [2.0, 3.0]]), 2, ValueError, "X contains NaN or infinity"),
    (np.arange(3.0), 2, ValueError, "X must be 2-D"),
    (np.arange(2.0).reshape(1, 2), 2, ValueError, "at least two rows"),
])
def test_bad_input_is_refused_by_name(X, n_bins, error, message):
    with pytest.raises(error, match=message):
        fastbp.embeddings.compute_bins(X, n_bins)
