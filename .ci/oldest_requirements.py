"""Print the oldest versions pyproject.toml admits, one `name==version` per line, for CI's oldest-versions stage.

    python3 .ci/oldest_requirements.py > oldest.txt    (Python >= 3.11: tomllib)

Every runtime dependency must declare its minimum as `name>=version`, so that the stage tests what the
package promises to work with; anything else is an error here.
"""

import pathlib
import re
import sys

import tomllib

ROOT = pathlib.Path(__file__).resolve().parents[1]


def main():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    pins = []
    for requirement in project["dependencies"]:
        match = re.fullmatch(r"([A-Za-z0-9_.\-]+)\s*>=\s*([0-9][0-9.]*)", requirement.split(";")[0].strip())
        if match is None:
            sys.exit(f"pyproject.toml: dependency {requirement!r} does not declare its minimum as name>=version")
        pins.append(f"{match[1]}=={match[2]}")
    print("\n".join(pins))


if __name__ == "__main__":
    main()
