from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
from scipy.sparse import csr_array, csr_matrix

_Float = npt.NDArray[np.float32] | npt.NDArray[np.float64]
_Input = _Float | csr_matrix | csr_array  # dense, or CSR (see fastbp._core._sparse)

class CoreNet:
    layer_sizes: tuple[int, ...]
    def __init__(self, layer_sizes: Sequence[int], hidden: int, output: int) -> None: ...
    @property
    def n_params(self) -> int: ...
    def forward(self, params: _Float, X: _Input, n_threads: int, invariant: bool, Y: _Float | None = None,
                sample_weight: _Float | None = None, weight_sum: float = 0, alpha: float = 0
                ) -> _Float | tuple[float, _Float]: ...
    def loss_and_grad(self, params: _Float, X: _Input, Y: _Float, sample_weight: _Float | None, weight_sum: float,
                      alpha: float, grad_out: _Float, n_threads: int, invariant: bool) -> float: ...
