"""The keyword options of `fastbp.MLP` beyond its sizes, activation, output and dtype: one record per option.

`OPTIONS` is the one list of them. Each `Option` says its default (what a model, a state dict or a file without
it has), how a model file stores it (`fastbp.persistence` encodes and checks a value by its ``stored`` kind) and
from which format version on, and which attribute of the model holds the value a file stores. `MLP.options`,
`MLP.__repr__`, `MLP.from_state_dict`, `MLP.computes` and the file format read this list; adding an option is a
row here, the constructor's parameter and its check.

`check_structure` checks the options that decide the parameter layout (the ensemble, the embedding, the
categorical columns) for a model of given sizes and dtype and returns the layout: `MLP` and `fastbp.persistence`
(a file's parameters must fit it) both call it, so a file is refused for what the constructor would refuse.
"""

from dataclasses import dataclass
from typing import Any

import numpy as np

from fastbp import _validation as v
from fastbp.embeddings import check_embedding
from fastbp.layout import ENSEMBLES, ensemble_layout, inputs_of


@dataclass(frozen=True)
class Option:
    """One keyword option: its name, its default, how a file stores it ("rates": float64, one or one per hidden
    layer; "number": float64; "name": a string; "count": int64; "cardinalities": int64 (n,), empty for None;
    "settings": the JSON of the value's ``to_dict``, "" for None), the format version that stores it first, and
    the model's attribute whose value is stored when that is not the option's own (the loss's resolved name)."""

    name: str
    default: Any
    stored: str
    since: int
    attribute: str = ""

    def value_of(self, net: Any) -> Any:
        """What a file stores of `net` for this option."""
        return getattr(net, self.attribute or self.name)


OPTIONS = (
    Option("dropout", 0.0, "rates", 4),
    Option("loss", None, "name", 4, attribute="loss_function"),
    Option("huber_delta", 1.0, "number", 4),
    Option("label_smoothing", 0.0, "number", 4),
    Option("init", "sklearn", "name", 4),
    Option("ensemble_size", 1, "count", 5),
    Option("ensemble", "batch", "name", 5),
    Option("categories", None, "cardinalities", 6),
    Option("embedding", None, "settings", 6),
)
DEFAULTS = {option.name: option.default for option in OPTIONS}


@dataclass(frozen=True)
class Structure:
    """The checked options that decide a model's parameter layout, and the layout (`fastbp.layout.Layout`)."""

    ensemble_size: int
    ensemble: str
    embedding: Any
    categories: tuple | None
    layout: Any


def check_structure(layer_sizes: tuple, dtype: np.dtype, ensemble_size: Any, ensemble: Any, embedding: Any,
                    categories: Any) -> Structure:
    """The `Structure` of a model of (checked) `layer_sizes` and `dtype` with these options, each checked: a
    ValueError or TypeError names the option."""
    ensemble_size = v.check_int("ensemble_size", ensemble_size, minimum=1)
    ensemble = v.check_choice("ensemble", ensemble, ENSEMBLES)
    embedding = check_embedding(embedding)
    inputs = inputs_of(layer_sizes[0], categories, embedding)
    categories = inputs.categories if inputs is not None and inputs.categories else None
    if categories and dtype == np.float32 and max(categories) > 2 ** 24:
        raise ValueError("categories of more than 2**24 levels need dtype='float64': float32 codes are exact "
                         "integers only up to 2**24")
    return Structure(ensemble_size, ensemble, embedding, categories,
                     ensemble_layout(layer_sizes, ensemble_size, ensemble, inputs))
