from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
from scipy.sparse import csr_array, csr_matrix

from fastbp.layout import Layout

_Float = npt.NDArray[np.float32] | npt.NDArray[np.float64]
_Input = _Float | csr_matrix | csr_array  # dense, or CSR (see fastbp._core._sparse)

ACTIVATION_NAMES: dict[int, str]
ROLES: dict[str, int]
EMBEDDINGS: dict[str | None, int]
PREDICT_FEW_ROWS: int

class CoreNet:
    layer_sizes: tuple[int, ...]
    def __init__(self, layout: Layout, activations: Sequence[str], output: str, loss: str = "natural",
                 huber_delta: float = 1.0, label_smoothing: float = 0.0,
                 dropout: Sequence[float] | None = None) -> None: ...
    def factor_widths(self, dropout: bool) -> list[int]: ...
    @property
    def members(self) -> int: ...
    @property
    def stages(self) -> list[tuple[str, int]]: ...
    @property
    def row_scratch(self) -> int: ...
    def units(self, l: int) -> int: ...
    def member_widths(self, backward: bool) -> tuple[list[int], list[int]]: ...
    def forward(self, params: _Float, X: _Input, n_threads: int, invariant: bool, members: bool = False) -> _Float: ...
    def predict(self, params: _Float, X: _Float, n_threads: int) -> _Float | None: ...
    def objective_and_output(self, params: _Float, X: _Input, Y: _Float, sample_weight: _Float | None,
                             weight_sum: float, alpha: float, n_threads: int, invariant: bool,
                             dropout_seed: int = -1, dropout_step: int = 0) -> tuple[float, _Float]: ...
    def loss_and_grad(self, params: _Float, X: _Input, Y: _Float, sample_weight: _Float | None, weight_sum: float,
                      alpha: float, grad_out: _Float, n_threads: int, invariant: bool,
                      dropout_seed: int = -1, dropout_step: int = 0) -> float: ...
