"""A table's columns as the model reads them: numeric columns quantile-normalized, categorical columns as codes.

`Columns.fit` learns, from the training rows only, which columns are categorical and everything their encoding
needs; `Columns.transform` turns any table of the same columns into one float array for `fastbp.MLP`: the
numeric columns first (each through scikit-learn's `QuantileTransformer` with a normal output, as TabM's recipe
does; a missing value is the transformed median, 0), then one integer code per categorical column, then one 0/1
code per numeric column that had missing values in training (its missing-value indicator, a categorical column
of two levels). `cardinalities` lists the categorical columns' levels, which `fastbp.MLP(categories=...)` takes.

A categorical column's levels are its training values seen at least twice (sorted), and a missing value is a
level of its own when training saw one; any other value (seen once, or never) gets the code -1, which the model
reads as unknown (an all-zero one-hot). So prediction never fails on a new category, and a column of thousands of
levels costs a lookup of the first layer's rows, never a one-hot matrix. Numeric columns constant in training
(all-missing ones included) carry nothing and are left out, as is a categorical column without a level.

Which columns are categorical follows scikit-learn's `HistGradientBoosting*` (``categorical_features``):
"from_dtype" takes pandas' category, object, string and bool columns (polars': Categorical, Enum, String, Boolean
and Object); or names, indices, or a boolean mask. Data frames are pandas' or polars'; neither is a dependency.
"""

import numbers
from collections import Counter

import numpy as np

# A categorical level seen fewer times in training is unknown: a level of its own row only (an id, a phone number)
# would give the model a weight to memorize that row with, and tells nothing about rows to come.
MIN_LEVEL_COUNT = 2
# Rows the quantiles are taken from (scikit-learn's `QuantileTransformer` subsample): all of them, as the recipe.
QUANTILE_SUBSAMPLE = 1_000_000_000


def is_polars(X):
    """Whether X is a polars data frame or series (without importing polars)."""
    return type(X).__module__.split(".")[0] == "polars"


def is_frame(X):
    return is_polars(X) or (hasattr(X, "columns") and hasattr(X, "dtypes") and hasattr(X, "iloc"))


def column_names(X):
    """The names of a data frame's columns (strings), or None for an array."""
    return [str(name) for name in X.columns] if is_frame(X) else None


def frame_series(X, j):
    """Column j of a pandas or polars data frame."""
    return X.to_series(j) if is_polars(X) else X.iloc[:, j]


def categorical_by_dtype(series):
    """Whether a data frame's column is categorical by its dtype: pandas' category, object, string or bool,
    polars' Categorical, Enum, String, Boolean or Object."""
    if is_polars(series):
        import polars as pl

        return isinstance(series.dtype, (pl.Categorical, pl.Enum, pl.String, pl.Boolean, pl.Object))
    import pandas as pd

    dtype = series.dtype
    return (isinstance(dtype, pd.CategoricalDtype) or pd.api.types.is_object_dtype(dtype)
            or pd.api.types.is_string_dtype(dtype) or pd.api.types.is_bool_dtype(dtype))


def columns_of(X, categorical):
    """The columns of X (a data frame, or a 2-D array) as a list of 1-D arrays: the `categorical` ones (a bool per
    column) as object arrays with None for missing values, the others as float64 with NaN for missing values (pd.NA
    and None included). A column that is neither is refused, named. Arrays need no pandas."""
    names = column_names(X)
    array = None if names is not None else np.asarray(X)
    out = []
    for j in range(X.shape[1]):
        name = j if names is None else names[j]
        try:
            out.append(frame_column(frame_series(X, j), categorical[j]) if array is None else
                       array_column(array[:, j], categorical[j]))
        except ValueError as exc:
            raise ValueError(f"column {name!r} is neither numeric nor categorical: name it in categorical_features, "
                             f"or convert it to numbers ({exc})") from exc
    return out


def frame_column(series, categorical):
    if is_polars(series):
        return polars_column(series, categorical)
    missing = series.isna().to_numpy()
    if not categorical:
        return series.to_numpy(dtype=np.float64, na_value=np.nan)
    values = series.astype(object).to_numpy(copy=True)
    values[missing] = None
    return values


def polars_column(series, categorical):
    if categorical:
        return np.array(series.to_list() + [None], dtype=object)[:-1]  # a 1-D object array even of lists
    import polars as pl

    try:
        return series.cast(pl.Float64).to_numpy().astype(np.float64)  # null is NaN
    except pl.exceptions.PolarsError as exc:
        raise ValueError(str(exc).splitlines()[0]) from exc


def array_column(column, categorical):
    if not categorical:
        return np.array([np.nan if value is None else value for value in column], dtype=np.float64) \
            if column.dtype == object else column.astype(np.float64)
    values = column.astype(object)
    values[[value is None or value != value for value in values]] = None  # NaN is missing too
    return values


def categorical_mask(X, categorical_features):
    """(n_columns,) bool: which columns of X are categorical, from `categorical_features` ("from_dtype", None,
    names, indices or a boolean mask), checked against X."""
    n_columns = X.shape[1]
    names = column_names(X)
    if categorical_features is None:
        return np.zeros(n_columns, dtype=bool)
    if isinstance(categorical_features, str) and categorical_features == "from_dtype":
        if names is None:
            return np.zeros(n_columns, dtype=bool)
        return np.array([categorical_by_dtype(frame_series(X, j)) for j in range(n_columns)], dtype=bool)
    if isinstance(categorical_features, str):
        raise ValueError(f"categorical_features must be 'from_dtype', None, names, indices or a boolean mask, "
                         f"got {categorical_features!r}")
    given = list(categorical_features)
    mask = np.zeros(n_columns, dtype=bool)
    if given and all(isinstance(item, (bool, np.bool_)) for item in given):
        if len(given) != n_columns:
            raise ValueError(f"categorical_features as a boolean mask has {len(given)} entries; X has {n_columns} "
                             "columns")
        return np.array(given, dtype=bool)
    for item in given:
        if isinstance(item, str):
            if names is None:
                raise ValueError(f"categorical_features names column {item!r}, but X has no column names (pass a "
                                 "data frame, or indices)")
            if item not in names:
                raise ValueError(f"categorical_features names column {item!r}, which X does not have")
            mask[names.index(item)] = True
        elif isinstance(item, numbers.Integral) and not isinstance(item, (bool, np.bool_)):
            if not -n_columns <= item < n_columns:
                raise ValueError(f"categorical_features has index {item}; X has {n_columns} columns")
            mask[item] = True
        else:
            raise ValueError(f"categorical_features must hold column names, indices or booleans, got {item!r}")
    return mask


def sort_key(value):
    """Levels of mixed types sort by their type's name, then by value, so the codes never depend on the order
    of the rows."""
    return (type(value).__name__, value)


class Columns:
    """The encoding of a table's columns, learned by `fit` on the training rows (see the module's docstring).

    Attributes after fit: `categorical` (bool per input column), `numeric` (the input columns kept as numeric),
    `levels` (each categorical column's sorted training values, and whether missing is a level), `indicators`
    (the numeric input columns with missing values in training), `quantiles` (the fitted transformer, or None),
    `cardinalities` and `n_numeric` (the model's numeric columns).
    """

    def __init__(self, categorical_features="from_dtype", random_state=0):
        self.categorical_features = categorical_features
        self.random_state = random_state

    def fit(self, X):
        from sklearn.preprocessing import QuantileTransformer

        self.categorical = categorical_mask(X, self.categorical_features)
        columns = columns_of(X, self.categorical)
        numeric = [j for j in range(len(columns)) if not self.categorical[j]]
        missing = {j: np.isnan(columns[j]) for j in numeric}
        self.indicators = [j for j in numeric if 0 < missing[j].sum() < len(missing[j])]  # all-missing: nothing
        self.levels = {}
        for j in np.flatnonzero(self.categorical):
            values = columns[j]
            counts = Counter(values[values != None].tolist())  # noqa: E711 (elementwise: missing values are None)
            levels = sorted((level for level, count in counts.items() if count >= MIN_LEVEL_COUNT), key=sort_key)
            missing_level = bool((values == None).any())  # noqa: E711
            if levels or missing_level:  # else every value is unknown: the column carries nothing
                self.levels[int(j)] = (levels, missing_level)
        # Columns constant in training (all-missing ones too) carry nothing.
        varying = [j for j in numeric if not missing[j].all()
                   and np.max(columns[j][~missing[j]]) > np.min(columns[j][~missing[j]])]
        self.quantiles, self.numeric = None, []
        if varying:
            data = np.column_stack([columns[j] for j in varying])
            n_rows = data.shape[0]  # the recipe's quantiles: n / 30, from 10 to 1000, at most n
            self.quantiles = QuantileTransformer(output_distribution="normal",
                                                 n_quantiles=min(max(min(n_rows // 30, 1000), 10), n_rows),
                                                 subsample=QUANTILE_SUBSAMPLE, random_state=self.random_state)
            transformed = np.nan_to_num(self.quantiles.fit_transform(data), nan=0.0)
            self.kept = transformed.max(axis=0) > transformed.min(axis=0)
            self.numeric = [j for j, kept in zip(varying, self.kept) if kept]
            self.varying = varying
        self.cardinalities = [len(levels) + missing for levels, missing in self.levels.values()] + \
            [2] * len(self.indicators)
        # A table with nothing to learn from is one zero column: the model then learns the targets' mean.
        self.empty = not self.numeric and not self.cardinalities
        self.n_numeric = len(self.numeric) or int(self.empty)
        return self

    def transform(self, X, dtype=np.float64):
        """The model's input (n_rows, n_numeric + number of cardinalities) in `dtype`."""
        columns = columns_of(X, self.categorical)
        parts = []
        if self.quantiles is not None:
            data = np.column_stack([columns[j] for j in self.varying])
            transformed = np.nan_to_num(self.quantiles.transform(data), nan=0.0)
            parts.append(transformed[:, self.kept])
        for j, (levels, missing) in self.levels.items():
            values = columns[j]
            # -1 for a value never seen in training (unknown); a missing one its own code when training had one
            code = {level: i for i, level in enumerate(levels)}
            code[None] = len(levels) if missing else -1
            codes = np.array([code.get(value, -1) for value in values], dtype=np.float64)
            parts.append(codes[:, None])
        for j in self.indicators:
            parts.append(np.isnan(columns[j]).astype(np.float64)[:, None])
        if self.empty:
            parts.append(np.zeros((len(columns[0]) if columns else 0, 1)))
        return np.ascontiguousarray(np.hstack(parts), dtype=dtype)

    def to_dict(self):
        """The fitted encoding as plain values (and the fitted `QuantileTransformer`), for pickles and skops files
        that name no class of fastbp's; `from_dict` builds it back."""
        state = dict(vars(self))
        state["categorical"] = [bool(flag) for flag in self.categorical]
        state["levels"] = [[j, levels, bool(missing)] for j, (levels, missing) in self.levels.items()]
        if "kept" in state:
            state["kept"] = [bool(flag) for flag in self.kept]
        return state

    @classmethod
    def from_dict(cls, state):
        columns = cls.__new__(cls)
        vars(columns).update(state)
        columns.categorical = np.array(state["categorical"], dtype=bool)
        columns.levels = {int(j): (list(levels), bool(missing)) for j, levels, missing in state["levels"]}
        if "kept" in state:
            columns.kept = np.array(state["kept"], dtype=bool)
        return columns
