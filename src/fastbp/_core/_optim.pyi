import numpy as np
import numpy.typing as npt

_Float = npt.NDArray[np.float32] | npt.NDArray[np.float64]

def sgd_update(params: _Float, grad: _Float, velocity: _Float, learning_rate: float, momentum: float,
               nesterov: bool) -> None: ...
def adam_update(params: _Float, grad: _Float, m: _Float, v: _Float, learning_rate: float, t: int, beta_1: float,
                beta_2: float, epsilon: float) -> None: ...
