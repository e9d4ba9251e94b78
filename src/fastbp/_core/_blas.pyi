import numpy as np
import numpy.typing as npt

_Float = npt.NDArray[np.float32] | npt.NDArray[np.float64]

def matmul(a: _Float, b: _Float, c_out: _Float, trans_a: bool = False, trans_b: bool = False) -> None: ...
