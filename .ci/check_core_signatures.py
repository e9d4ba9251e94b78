"""Every cdef function of the compiled core takes at most 8 parameters (the BLAS wrapper excepted): what
travels together is a struct, so a kernel's signature names roles, not runs of raw pointers.

    python .ci/check_core_signatures.py       # from the repository root; exits 1 and lists the offenders
"""

import pathlib
import re
import sys

LIMIT = 8
EXCEPTED = {("_blas", "gemm")}  # BLAS's own signature, wrapped once
CORE = pathlib.Path(__file__).resolve().parents[1] / "src" / "fastbp" / "_core"
# `cdef [inline] <return type> name(` up to the matching parenthesis, declarations in .pxd files too, and the
# constructors (`__cinit__`) of cdef classes.
START = re.compile(r"^[ \t]*(?:cdef[ \t]+(?:inline[ \t]+)?[\w.*\[\] \t]+?\b(\w+)|def[ \t]+(__cinit__))[ \t]*\(", re.M)


def parameters(text, start):
    depth, i = 1, start
    while depth:
        depth += {"(": 1, ")": -1}.get(text[i], 0)
        i += 1
    inside = text[start:i - 1]
    inside = re.sub(r"\[[^\]]*\]", "", inside)  # memoryview slices hold commas
    return [p for p in inside.split(",") if p.strip() and p.strip() != "self"]


def main():
    offenders = []
    for path in sorted(CORE.glob("*.p*")):
        if path.suffix not in (".pyx", ".pxd"):
            continue
        text = path.read_text()
        for match in START.finditer(text):
            name = match.group(1) or match.group(2)
            if name in ("class", "struct", "enum", "extern") or (path.stem, name) in EXCEPTED:
                continue
            count = len(parameters(text, match.end()))
            if count > LIMIT:
                offenders.append(f"{path.name}: {name} takes {count} parameters (at most {LIMIT})")
    print("\n".join(offenders) or f"every cdef function of the core takes at most {LIMIT} parameters")
    return 1 if offenders else 0


if __name__ == "__main__":
    sys.exit(main())
