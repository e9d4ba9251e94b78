"""The package is layered one way: no import cycles between its modules (lazy imports count), and no module
imports another module's private names. Read from the installed sources with `ast`, so it holds for what
users run."""

import ast
import pathlib

import fastbp

PACKAGE = pathlib.Path(fastbp.__file__).parent


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


def test_no_module_imports_another_modules_private_names():
    assert import_graph()[1] == []


def test_modules_import_one_way_without_cycles():
    edges, _ = import_graph()

    def reaches(start, goal, seen):
        for dep in edges.get(start, ()):
            if dep == goal or (dep not in seen and not seen.add(dep) and reaches(dep, goal, seen)):
                return True
        return False

    cycles = sorted(name for name in edges if reaches(name, name, set()))
    assert cycles == [], f"modules on an import cycle: {cycles}"


def test_the_check_sees_a_cycle_and_a_private_import(tmp_path):
    # The check itself can fail: a package with a -> b -> a (lazily) and a private reach-in is reported.
    (tmp_path / "__init__.py").write_text("")
    (tmp_path / "a.py").write_text("from fastbp.b import _helper\n")
    (tmp_path / "b.py").write_text("def f():\n    from fastbp import a\n_helper = 1\n")
    edges, private = import_graph(tmp_path)
    assert edges == {"fastbp.a": {"fastbp.b"}, "fastbp.b": {"fastbp.a"}}
    assert private == ["fastbp.a imports _helper from fastbp.b"]
