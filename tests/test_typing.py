"""The public API is annotated (fastbp ships ``py.typed``): every public function, and every public method of a
public class that fastbp defines, annotates each parameter and its return. CI type-checks the package with
mypy; this keeps that check meaningful as the API grows."""

import inspect

import pytest

import fastbp

PUBLIC = sorted(set(fastbp.__all__) - {"__version__"})


def _unannotated(function):
    signature = inspect.signature(function)
    missing = [name for name, parameter in signature.parameters.items()
               if name not in ("self", "cls") and parameter.annotation is inspect.Parameter.empty]
    if signature.return_annotation is inspect.Signature.empty:
        missing.append("return")
    return missing


def _callables(obj):
    """(name, function) of a public function, or of a class's own public methods (and __init__), properties'
    getters included; for a public module, those of its public classes and functions."""
    if inspect.ismodule(obj):
        return [found for name, member in vars(obj).items() if not name.startswith("_")
                and getattr(member, "__module__", None) == obj.__name__ for found in _callables(member)]
    if not inspect.isclass(obj):
        return [(obj.__name__, obj)]
    found = []
    for name, member in vars(obj).items():
        if name != "__init__" and (name.startswith("_") or not (callable(member) or isinstance(member, property)
                                                                 or hasattr(member, "fn"))):
            continue
        # A property's getter; the function behind scikit-learn's available_if (partial_fit); a method.
        member = member.fget if isinstance(member, property) else getattr(member, "fn", None) or getattr(obj, name)
        if getattr(member, "__module__", "").startswith("fastbp"):
            found.append((f"{obj.__name__}.{name}", member))
    return found


@pytest.mark.parametrize("name", PUBLIC)
def test_the_public_api_is_annotated(name):
    obj = getattr(fastbp, name)
    classes = [obj] + [base for base in getattr(obj, "__mro__", [])[1:] if base.__module__.startswith("fastbp.")]
    missing = {qualified: gaps for cls in classes for qualified, function in _callables(cls)
               if (gaps := _unannotated(function))}
    assert not missing, f"unannotated parameters or returns: {missing}"
