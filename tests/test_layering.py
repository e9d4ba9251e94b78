"""The package is layered one way: no import cycles between its modules (lazy imports count), no module imports
another module's private names, and none reaches into another's private attributes (`obj._name`, or
getattr/setattr with a constant name, where `_name` belongs to other modules of the package and obj is not
self, cls or super()); and no module is longer than MAX_LINES. Read from the installed sources with `ast`,
so it holds for what users run."""

import ast
import pathlib

import fastbp

PACKAGE = pathlib.Path(fastbp.__file__).parent
MAX_LINES = 500  # small modules with names that say what they hold


def modules(root):
    """{module name: path} of every Python module of the package in the folder `root`."""
    found = {}
    for path in root.rglob("*.py"):
        parts = ("fastbp",) + path.relative_to(root).with_suffix("").parts
        found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


def imports(name, path, known):
    """(module imported, name imported or None) for every import of fastbp in one module."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            yield from ((alias.name, None) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(parts + ([base] if base else []))
            for alias in node.names:
                sub = f"{base}.{alias.name}"
                yield (sub if sub in known else base), alias.name


def owner(target, known):
    """The module of `known` that holds `target` (a module or a name inside one)."""
    while target and target not in known:
        target = target.rpartition(".")[0]
    return target


def import_graph(root=PACKAGE):
    """({module: modules it imports}, [private reach-ins]) of the package in the folder `root`."""
    known = modules(root)
    edges, private = {}, []
    for name, path in known.items():
        if name == "fastbp":  # the package's __init__ re-exports the public names
            continue
        for target, imported in imports(name, path, known):
            dep = owner(target, known) if target.startswith("fastbp") else ""
            if not dep or dep in (name, "fastbp"):
                continue
            edges.setdefault(name, set()).add(dep)
            private_module = any(part.startswith("_") for part in dep.split(".")[1:])
            if imported and imported.startswith("_") and not imported.startswith("__") \
                    and f"{dep}.{imported}" not in known and not private_module:
                private.append(f"{name} imports {imported} from {dep}")
    return edges, private


def _private(name):
    return name.startswith("_") and not name.startswith("__")


def defined_private_names(tree):
    """The private names a module defines: functions, classes, module or class variables, self./cls. attributes
    and setattr(self, "_name", ...)."""
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and _private(node.name):
            names.add(node.name)
        elif isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
            for target in node.targets if isinstance(node, ast.Assign) else [node.target]:
                for sub in ast.walk(target):
                    if isinstance(sub, ast.Attribute) and _private(sub.attr) and isinstance(sub.value, ast.Name) \
                            and sub.value.id in ("self", "cls"):
                        names.add(sub.attr)
                    elif isinstance(sub, ast.Name) and _private(sub.id):
                        names.add(sub.id)
        elif _attribute_call(node, ("setattr",)) and isinstance(node.args[0], ast.Name) \
                and node.args[0].id in ("self", "cls"):
            names.add(node.args[1].value)
    return names


def _attribute_call(node, functions):
    return (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in functions
            and len(node.args) >= 2 and isinstance(node.args[1], ast.Constant)
            and isinstance(node.args[1].value, str) and _private(node.args[1].value))


def reach_ins(root=PACKAGE):
    """["module:line uses ._name"] for every private attribute one module touches that only others define."""
    known = modules(root)
    trees = {name: ast.parse(path.read_text()) for name, path in known.items()}
    defined = {name: defined_private_names(tree) for name, tree in trees.items()}
    found = []
    for name, tree in trees.items():
        for node in ast.walk(tree):
            if _attribute_call(node, ("getattr", "hasattr", "setattr", "delattr")):
                node = ast.Attribute(value=node.args[0], attr=node.args[1].value, lineno=node.lineno)
            if not isinstance(node, ast.Attribute) or not _private(node.attr) or node.attr in defined[name]:
                continue
            owner = node.value
            if (isinstance(owner, ast.Name) and owner.id in ("self", "cls")) or \
                    (isinstance(owner, ast.Call) and isinstance(owner.func, ast.Name) and owner.func.id == "super"):
                continue
            if any(node.attr in names for other, names in defined.items() if other != name):
                found.append(f"{name}:{node.lineno} uses .{node.attr}")
    return found


def test_no_module_imports_another_modules_private_names():
    assert import_graph()[1] == []


def test_no_module_reaches_into_another_modules_private_attributes():
    assert reach_ins() == []


def test_modules_import_one_way_without_cycles():
    edges, _ = import_graph()

    def reaches(start, goal, seen):
        for dep in edges.get(start, ()):
            if dep == goal or (dep not in seen and not seen.add(dep) and reaches(dep, goal, seen)):
                return True
        return False

    cycles = sorted(name for name in edges if reaches(name, name, set()))
    assert cycles == [], f"modules on an import cycle: {cycles}"


def test_no_module_is_longer_than_max_lines():
    long = {name: n for name, path in modules(PACKAGE).items() if (n := len(path.read_text().splitlines())) > MAX_LINES}
    assert not long, f"modules over {MAX_LINES} lines (split them by concern): {long}"


def test_the_checks_see_a_cycle_a_private_import_and_reach_ins(tmp_path):
    # The checks themselves can fail: a package with a -> b -> a (lazily), a private import and reach-ins.
    (tmp_path / "__init__.py").write_text("")
    (tmp_path / "a.py").write_text("from fastbp.b import _helper, B\n\ndef f(obj):\n    return obj._state, "
                                   "getattr(obj, '_cache'), B()._own\n\nclass A:\n    _own = 1\n")
    (tmp_path / "b.py").write_text("def f():\n    from fastbp import a\n_helper = 1\n\nclass B:\n"
                                   "    def __init__(self):\n        self._state = self._cache = 0\n")
    edges, private = import_graph(tmp_path)
    assert edges == {"fastbp.a": {"fastbp.b"}, "fastbp.b": {"fastbp.a"}}
    assert private == ["fastbp.a imports _helper from fastbp.b"]
    assert reach_ins(tmp_path) == ["fastbp.a:4 uses ._state", "fastbp.a:4 uses ._cache"]
