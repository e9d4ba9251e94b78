import numpy as np
import numpy.typing as npt
from scipy.sparse import csr_array, csr_matrix

from fastbp._core._network import CoreNet

_Float = npt.NDArray[np.float32] | npt.NDArray[np.float64]
_Input = _Float | csr_matrix | csr_array  # dense, or CSR (see fastbp._core._sparse)

SGD: int
ADAM: int

class Epoch:
    batch_size: int
    def __init__(self, net: CoreNet, batch_size: int, dtype: np.dtype, alpha: float, optimizer: int, momentum: float,
                 nesterov: bool, beta_1: float, beta_2: float, epsilon: float, n_threads: int,
                 invariant: bool) -> None: ...
    def run(self, params: _Float, X: _Input, Y: _Float, sample_weight: _Float | None,
            order: npt.NDArray[np.intp] | None, state_a: _Float, state_b: _Float, learning_rate: float,
            t: int) -> tuple[float, int, bool]: ...
