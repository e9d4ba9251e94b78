"""The compiled core is what runs, built the way it was asked to be."""

import os
import subprocess
import sys
import textwrap

import numpy as np

import fastbp
from fastbp._core import _blas, _openmp_helpers


def _flag(name):
    return os.environ.get(name, "").strip().lower() not in ("", "0", "false", "no", "off")


def test_core_is_compiled_and_used():
    core_file = sys.modules["fastbp._core._network"].__file__
    assert core_file.endswith((".so", ".pyd")), core_file
    net = fastbp.MLP([2, 3, 1])
    assert net.engine.name == "cython" and type(net.engine.table).__module__ == "fastbp._core._network"


def test_openmp_is_compiled_in_unless_disabled_for_the_build():
    info = fastbp.show_config(file=open(os.devnull, "w"))
    if _flag("FASTBP_DISABLE_OPENMP"):
        assert info["openmp"] is False
        assert info["openmp_max_threads"] == 1
    else:
        assert info["openmp"] is True
        assert info["openmp_version"] >= 200805  # OpenMP 3.0 or newer
        assert info["openmp_max_threads"] >= 1


def test_build_flags_never_include_host_specific_or_unsafe_math():
    flags = _openmp_helpers.build_flags()
    assert "-march=native" not in flags
    assert "-ffast-math" not in flags
    assert "-O3" in flags or _openmp_helpers.debug_build()
    assert ("-O0" in flags) == _openmp_helpers.debug_build()


def test_show_config_reports_blas(capsys):
    info = fastbp.show_config()
    printed = capsys.readouterr().out
    assert info["fastbp"] == fastbp.__version__
    assert info["blas"], "no BLAS library found for the core"
    assert "openmp" in printed and "blas" in printed


def test_import_fails_loudly_without_the_compiled_core():
    code = textwrap.dedent(
        """
        import sys
        class Block:
            def find_spec(self, name, path=None, target=None):
                if name == "fastbp._core._network":
                    raise ImportError("simulated missing extension")
        sys.meta_path.insert(0, Block())
        try:
            import fastbp
        except ImportError as exc:
            print("ImportError:", exc)
        else:
            print("imported")
        """
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.startswith("ImportError:"), out
    assert "compiled core" in out and "does not fall back" in out


def test_importing_fastbp_does_not_import_sklearn():
    code = "import sys, fastbp; fastbp.MLP([2, 1]); print('sklearn' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


def test_row_major_gemm_wrapper_matches_numpy(rng):
    for dtype in (np.float32, np.float64):
        a, b = rng.randn(5, 3).astype(dtype), rng.randn(3, 4).astype(dtype)
        for ta in (False, True):
            for tb in (False, True):
                A = np.ascontiguousarray(a.T) if ta else a
                B = np.ascontiguousarray(b.T) if tb else b
                out = np.empty((5, 4), dtype=dtype)
                _blas.matmul(A, B, out, ta, tb)
                np.testing.assert_allclose(out, a @ b, rtol=1e-5 if dtype == np.float32 else 1e-13)


def test_a_serial_build_warns_at_import_that_it_uses_one_thread():
    result = subprocess.run([sys.executable, "-W", "always", "-c", "import fastbp"], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr
    assert ("the core will use one thread" in result.stderr) == _flag("FASTBP_DISABLE_OPENMP")
