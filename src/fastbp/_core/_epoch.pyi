import numpy as np
import numpy.typing as npt
from scipy.sparse import csr_array, csr_matrix

from fastbp._core._network import CoreNet
from fastbp.steps import EpochResult

_Float = npt.NDArray[np.float32] | npt.NDArray[np.float64]
_Input = _Float | csr_matrix | csr_array  # dense, or CSR (see fastbp._core._sparse)

class EpochKernel:
    batch_size: int
    optimizer: str
    def __init__(self, net: CoreNet, batch_size: int, dtype: np.dtype, optimizer: str, settings: dict[str, object],
                 options: dict[str, object], n_threads: int, invariant: bool) -> None: ...
    def train_epoch(self, params: _Float, X: _Input, Y: _Float, sample_weight: _Float | None,
                    order: npt.NDArray[np.intp] | None, state: dict[str, _Float], learning_rate: float,
                    steps: int) -> EpochResult: ...
