"""A model's settings: checked together, and as attributes that take effect when assigned or say they are read-only.

`fastbp.MLP` keeps what its backend object computes with (activations, dropout, loss and its parameters, the
backend's name) in one dict of checked settings. Assigning one of them goes through `check_settings` with the
others and rebuilds the backend object, so the next call uses it on either backend; a refused value changes
nothing. The architecture (layer sizes, output, dtype) and the weights' buffer and views are read-only
attributes whose assignment says what to do instead.
"""

from collections.abc import Mapping
from typing import Any

from fastbp import _validation as v
from fastbp.reference import Spec

# The settings `check_settings` takes (those the constructor of MLP takes under these names, `loss` as
# loss_function), and the per-layer tuples it derives from two of them.
SETTINGS = ("activation", "backend", "dropout", "loss_function", "huber_delta", "label_smoothing")


def check_settings(layer_sizes: tuple, output: str, settings: Mapping[str, Any], backends: tuple) -> dict[str, Any]:
    """The SETTINGS of a network of `layer_sizes` and `output`, checked together (the backend one of the names
    `backends`), with "activations" and "dropouts", one per hidden layer."""
    n_hidden = len(layer_sizes) - 2
    activation, activations = v.check_per_layer("activation", settings["activation"], n_hidden, v.check_activation)
    dropout, dropouts = v.check_per_layer("dropout", settings["dropout"], n_hidden, v.check_rate)
    checked = {"activation": activation, "activations": activations, "dropout": dropout, "dropouts": dropouts,
               "backend": v.check_choice("backend", settings["backend"], backends),
               "loss_function": v.check_loss(settings["loss_function"], output),
               "huber_delta": v.check_float("huber_delta", settings["huber_delta"], 0.0, inclusive=False),
               "label_smoothing": v.check_rate("label_smoothing", settings["label_smoothing"])}
    if checked["label_smoothing"] and output not in ("logistic", "softmax"):
        raise ValueError(f"label_smoothing is for output='logistic' or 'softmax', not {output!r}")
    return checked


def option_settings(options: Mapping[str, Any]) -> dict[str, Any]:
    """The SETTINGS that the model's keyword options (`fastbp.options.OPTIONS` names) set: `loss` is loss_function."""
    return {"dropout": options["dropout"], "loss_function": options["loss"], "huber_delta": options["huber_delta"],
            "label_smoothing": options["label_smoothing"]}


def spec_of(settings: Mapping[str, Any], output: str) -> Spec:
    """The backends' `Spec` of checked settings."""
    loss = settings["loss_function"]
    return Spec(settings["activations"], output, loss if loss in ("huber", "absolute_error") else "natural",
                settings["huber_delta"], settings["label_smoothing"], settings["dropouts"])


def read_only(name: str, advice: str) -> property:
    """A read-only attribute, stored as ``_name``, whose assignment says why it is refused and what to do."""
    def get(self: Any) -> Any:
        return getattr(self, "_" + name)

    def refuse(self: Any, value: Any) -> None:
        raise AttributeError(f"MLP.{name} is read-only: {advice}")

    return property(get, refuse, doc=f"Read-only: {advice}.")


def setting(name: str, doc: str) -> property:
    """A setting the backend object computes with: assigning it goes through the model's ``_configure``."""
    def get(self: Any) -> Any:
        return self._settings[name]

    def assign(self: Any, value: Any) -> None:
        self._configure(**{name: value})

    return property(get, assign, doc=doc)


def derived(name: str, source: str) -> property:
    """One value per hidden layer of the setting `source`: read-only, changed by assigning `source`."""
    def get(self: Any) -> tuple:
        return self._settings[name]

    def refuse(self: Any, value: Any) -> None:
        raise AttributeError(f"MLP.{name} is read-only: assign MLP.{source} (one value, or one per hidden layer)")

    return property(get, refuse, doc=f"One value per hidden layer (a tuple); read-only, set `{source}`.")
