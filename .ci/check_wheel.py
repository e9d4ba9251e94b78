"""Check a built fastbp wheel: compiled modules with stubs, no build leftovers, complete metadata.

    python .ci/check_wheel.py dist/fastbp-*.whl
"""

import email.parser
import pathlib
import re
import sys
import zipfile

ROOT = pathlib.Path(__file__).resolve().parents[1]
MODULES = re.search(r"CORE_MODULES = \[(.*?)\]", (ROOT / "setup.py").read_text(), re.S).group(1)
MODULES = re.findall(r'"(\w+)"', MODULES)
VERSION = re.search(r'__version__ = "(.+)"', (ROOT / "src/fastbp/_version.py").read_text()).group(1)


def main(path):
    names = zipfile.ZipFile(path).namelist()
    problems = []
    for module in MODULES:
        if not any(re.fullmatch(rf"fastbp/_core/{module}\.[^/]*\.(so|pyd)", name) for name in names):
            problems.append(f"no compiled fastbp/_core/{module}")
        if f"fastbp/_core/{module}.pyi" not in names:
            problems.append(f"no stub fastbp/_core/{module}.pyi")
    if "fastbp/py.typed" not in names:
        problems.append("no fastbp/py.typed")
    leftovers = [name for name in names if name.endswith((".pyx", ".pxd", ".c", ".h", ".cpp"))]
    if leftovers:
        problems.append(f"build leftovers: {leftovers}")
    metadata_name = next(name for name in names if name.endswith(".dist-info/METADATA"))
    metadata = email.parser.Parser().parsestr(zipfile.ZipFile(path).read(metadata_name).decode())
    for field in ("Name", "Version", "Summary", "License-Expression", "Requires-Python", "Project-URL",
                  "Classifier", "Requires-Dist"):
        if not metadata.get_all(field):
            problems.append(f"METADATA has no {field}")
    if metadata["Version"] != VERSION:
        problems.append(f"METADATA version {metadata['Version']} != _version.py {VERSION}")
    if not any(name.endswith("LICENSE") for name in names):
        problems.append("no LICENSE in the wheel")
    if problems:
        sys.exit(f"{path}:\n  " + "\n  ".join(problems))
    print(f"{path}: {len(MODULES)} compiled modules with stubs, py.typed, no sources, metadata complete")


if __name__ == "__main__":
    for wheel in sys.argv[1:]:
        main(wheel)
