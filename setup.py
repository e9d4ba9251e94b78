"""Build the Cython core of fastbp.

The build probes the C compiler for OpenMP by compiling, linking and running a tiny program; when that works
every extension gets the OpenMP flags, otherwise the core is built serially with a warning.

Environment switches:
  FASTBP_DISABLE_OPENMP=1  build without OpenMP (serial core)
  FASTBP_REQUIRE_OPENMP=1  fail the build when OpenMP does not work
  FASTBP_DEBUG=1           bounds checks and wraparound on, -O0 -g (for debugging and sanitizers)
"""

import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import textwrap

from Cython.Build import cythonize
from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

CORE_MODULES = ["_openmp_helpers", "_blas", "_activations", "_losses", "_sparse", "_inputs", "_members", "_network",
                "_optim", "_epoch"]

OPENMP_PROBE = textwrap.dedent(
    """
    #include <omp.h>
    #include <stdio.h>
    int main(void) {
        int n = 0;
        #pragma omp parallel reduction(+:n)
        n += 1;
        printf("%d", n > 0);
        return 0;
    }
    """
)


def _flag(name):
    return os.environ.get(name, "").strip().lower() not in ("", "0", "false", "no", "off")


def _openmp_flags(compiler):
    """(compile_args, link_args) for OpenMP with this compiler, or None when a probe program fails."""
    if compiler.compiler_type == "msvc":
        candidates = [(["/openmp"], [])]
    elif sys.platform == "darwin":
        candidates = [(["-Xpreprocessor", "-fopenmp"], ["-lomp"]), (["-fopenmp"], ["-fopenmp"])]
    else:
        candidates = [(["-fopenmp"], ["-fopenmp"])]
    tmp = tempfile.mkdtemp(prefix="fastbp-openmp-")
    try:
        src = os.path.join(tmp, "probe.c")
        with open(src, "w") as f:
            f.write(OPENMP_PROBE)
        for cflags, lflags in candidates:
            try:
                objs = compiler.compile([src], output_dir=tmp, extra_postargs=cflags)
                exe = os.path.join(tmp, "probe")
                # The probe links as an executable, which does not pick up LDFLAGS by itself; a build with
                # CFLAGS=-fsanitize=address (see CONTRIBUTING.md) needs them to link.
                compiler.link_executable(objs, exe, extra_postargs=lflags + shlex.split(os.environ.get("LDFLAGS", "")))
                out = subprocess.run([exe], capture_output=True, text=True, timeout=60)
                if out.returncode == 0 and out.stdout.strip() == "1":
                    return cflags, lflags
            except Exception:  # noqa: BLE001 - any failure means "this flag set does not work"
                continue
        return None
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


class BuildExt(build_ext):
    def finalize_options(self):
        super().finalize_options()
        if self.parallel is None:
            self.parallel = os.cpu_count() or 1

    def build_extensions(self):
        debug = _flag("FASTBP_DEBUG")
        if self.compiler.compiler_type == "msvc":
            cflags = ["/Od", "/Zi"] if debug else ["/O2"]
        else:
            # -fno-math-errno lets sqrt (Adam) vectorize; it changes no result, only errno on domain errors.
            cflags = ["-O0", "-g"] if debug else ["-O3", "-fno-math-errno"]
        lflags = []

        openmp = None
        if _flag("FASTBP_DISABLE_OPENMP"):
            print("fastbp: FASTBP_DISABLE_OPENMP is set; building the serial core")
        else:
            openmp = _openmp_flags(self.compiler)
            if openmp is None:
                message = (
                    "fastbp: the C compiler could not build and run an OpenMP program; "
                    "the core is built serially and will use one thread"
                )
                if _flag("FASTBP_REQUIRE_OPENMP"):
                    raise RuntimeError(message + " (FASTBP_REQUIRE_OPENMP is set)")
                print("WARNING: " + message, file=sys.stderr)
            else:
                cflags += openmp[0]
                lflags += openmp[1]

        # show_config() reports these flags; a generated header carries them into the helper module.
        include_dir = os.path.join(self.build_temp, "fastbp_generated")
        os.makedirs(include_dir, exist_ok=True)
        flag_text = f"compile: {' '.join(cflags)}; link: {' '.join(lflags) or '-'}"
        flag_text = flag_text.replace("\\", "\\\\").replace('"', '\\"')
        header = f'#define FASTBP_BUILD_FLAGS "{flag_text}"\n#define FASTBP_DEBUG_BUILD {int(debug)}\n'
        header_path = os.path.join(include_dir, "fastbp_build.h")
        previous = open(header_path).read() if os.path.exists(header_path) else None
        if previous != header:
            # Different switches than the last build in this tree: sources are unchanged, so force a rebuild.
            self.force = True
            with open(header_path, "w") as f:
                f.write(header)

        for ext in self.extensions:
            ext.extra_compile_args = cflags + list(ext.extra_compile_args)
            ext.extra_link_args = lflags + list(ext.extra_link_args)
            ext.include_dirs.append(include_dir)
        super().build_extensions()


def _extensions():
    debug = _flag("FASTBP_DEBUG")
    directives = {
        "language_level": 3,
        "boundscheck": debug,
        "wraparound": debug,
        "initializedcheck": debug,
        "cdivision": not debug,
        "embedsignature": True,
    }
    extensions = [
        Extension(f"fastbp._core.{name}", [f"src/fastbp/_core/{name}.pyx"], include_dirs=["src/fastbp/_core"],
                  depends=["src/fastbp/_core/_vecmath.h", "src/fastbp/_core/_updates.h"])
        for name in CORE_MODULES
    ]
    # Debug and release C sources live apart: cythonize regenerates a .c file only when its .pyx changes,
    # not when the directives do.
    build_dir = os.path.join("build", "cython-debug" if debug else "cython")
    return cythonize(extensions, compiler_directives=directives, include_path=["src"], build_dir=build_dir,
                     nthreads=os.cpu_count() or 1)


setup(ext_modules=_extensions(), cmdclass={"build_ext": BuildExt})
