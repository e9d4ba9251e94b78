import numpy as np
import numpy.typing as npt

_Float = npt.NDArray[np.float32] | npt.NDArray[np.float64]

OPTIMIZERS: dict[str, int]
SETTINGS: dict[str, tuple[str, ...]]
STATE_NAMES: dict[str, tuple[str, ...]]
SCHEDULES: dict[str, int]
SCHEDULE_SETTINGS: dict[str, tuple[str, ...]]

def step(name: str, settings: dict[str, object], params: _Float, grad: _Float, state: dict[str, _Float],
         learning_rate: float, t: int, decayed: npt.NDArray[np.intp]) -> None: ...
def clip(grad: _Float, clip_norm: float, n_threads: int = 1) -> float: ...
def clip_chunks(n_params: int) -> int: ...
def rate(name: str, settings: dict[str, object], learning_rate: float, t: int) -> float: ...
