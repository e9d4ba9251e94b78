import numpy as np
from scipy.sparse import csr_array, csr_matrix

class CSR:
    n_rows: int
    def __init__(self, matrix: csr_matrix | csr_array, dtype: np.dtype) -> None: ...

class Scratch:
    def __init__(self) -> None: ...
