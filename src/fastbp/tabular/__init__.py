"""Estimators for tables as people have them: `TabularRegressor` and `TabularClassifier` (TabM ensembles with
piecewise-linear embeddings, categorical columns as lookups, missing values and unseen categories handled)."""

from fastbp.tabular.estimators import TabularClassifier, TabularRegressor

__all__ = ["TabularClassifier", "TabularRegressor"]
