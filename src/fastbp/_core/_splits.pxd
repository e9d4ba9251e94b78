# How the core cuts a product (and the elementwise work fused to it) into blocks that threads take whole, as
# inline functions that `_network` and `_members` share.

from fastbp._core._openmp_helpers cimport FASTBP_OPENMP_ENABLED, split_work, start_team, use_threads
from fastbp._core._records cimport Split, Threads


# Each product, with the elementwise work fused to it, is cut into blocks that threads take whole; BLAS runs
# single-threaded inside them (the Python layer sets that). Two ways to cut:
# - by default, one block per thread (`fastest_split`): as few BLAS calls as there are threads, so results
#   are reproducible for a given thread count;
# - with thread_invariant, fixed blocks whose shapes depend only on the data (`fixed_split`): every BLAS call
#   and every loop is the same whatever the number of threads, so results are bitwise identical for any
#   n_threads. A pass too small to be worth threads (`split_work`) is one whole-batch block.
cdef enum:
    ROW_BLOCK = 32    # fixed blocks: rows per block (forward, loss, delta propagation)
    COL_BLOCK = 64    # fixed blocks: output columns per block (weight and bias gradients, wide layers)
    MIN_SPLIT = 8     # default blocks: a multiple of this many rows or columns, so elementwise loops stay aligned


cdef inline Py_ssize_t n_blocks(Py_ssize_t n, Py_ssize_t block) noexcept nogil:
    return (n + block - 1) // block


cdef inline Py_ssize_t block_size(Split split, Py_ssize_t block, Py_ssize_t side) noexcept nogil:
    """The rows, columns or members of block number `block` of a split of `side`: split.size, or the rest."""
    return min(split.size, side - block * split.size)


cdef inline Split one_block(Py_ssize_t n_rows) noexcept nogil:
    """The whole product in one BLAS call, on the calling thread."""
    cdef Split split
    split.count = 1
    split.size = n_rows
    split.by_columns = False
    split.threaded = False
    return split


cdef inline Split fixed_split(Py_ssize_t n_rows, Py_ssize_t n_cols, bint by_columns, Py_ssize_t pass_work,
                             int n_threads) noexcept nogil:
    """thread_invariant=True: blocks of COL_BLOCK output columns (`by_columns`) or ROW_BLOCK output rows, once
    the pass is large enough (`split_work`). The blocks depend on the data only, never on n_threads."""
    cdef Split split
    if not split_work(pass_work):
        return one_block(n_rows)
    split.by_columns = by_columns
    split.size = COL_BLOCK if by_columns else ROW_BLOCK
    split.count = n_blocks(n_cols if by_columns else n_rows, split.size)
    split.threaded = use_threads(n_threads, pass_work)
    return split


cdef inline Split fastest_split(Py_ssize_t n_rows, Py_ssize_t n_cols, Py_ssize_t work, int n_threads,
                               Py_ssize_t min_thread_work) noexcept nogil:
    """The default: one block per thread that gets at least `min_thread_work` multiply-adds, cut along the
    longer side of the (n_rows, n_cols) output. Each block packs its share of one operand and all of the
    other, so cutting the longer side packs the least in total; measured on a 2-core AMD EPYC, either cut
    of a 256 x 1024 x 1024 product on 2 threads ran within 5% of OpenBLAS's own 2-thread call."""
    cdef Split split
    cdef bint by_columns = n_cols > n_rows
    cdef Py_ssize_t side = n_cols if by_columns else n_rows
    cdef Py_ssize_t parts = min(<Py_ssize_t> n_threads, work // min_thread_work, side // MIN_SPLIT)
    if not FASTBP_OPENMP_ENABLED or parts < 2:
        return one_block(n_rows)
    split.by_columns = by_columns
    split.size = n_blocks(n_blocks(side, parts), MIN_SPLIT) * MIN_SPLIT
    split.count = n_blocks(side, split.size)
    split.threaded = split.count > 1
    return split


cdef inline Split product_split(Threads threads, Py_ssize_t n_rows, Py_ssize_t n_cols, Py_ssize_t work,
                                bint wide, Py_ssize_t pass_work) noexcept nogil:
    """How to cut one product with an (n_rows, n_cols) output and `work` multiply-adds, in a pass of
    `pass_work`; `wide`: whether fixed blocks go over columns."""
    if threads.invariant:
        return fixed_split(n_rows, n_cols, wide, pass_work, threads.n)
    return fastest_split(n_rows, n_cols, work, threads.n, threads.min_work)


cdef inline int team(Threads threads, Split split) noexcept nogil:
    """Threads for a split's blocks: never more than there are blocks."""
    return start_team(<int> min(<Py_ssize_t> threads.n, split.count))


cdef inline bint column_blocks(int n_out) noexcept nogil:
    # Fixed blocks go over output columns when a layer is wide: each block then packs only its own
    # panel of W, where row blocks would each repack all of W (for a batch of 128 rows and a 784 x 256 W,
    # that repacking cost float32 more than the products). Narrow layers split over rows instead.
    return n_out >= 2 * COL_BLOCK


cdef inline Split along(Threads threads, Py_ssize_t side, Py_ssize_t fixed_size, Py_ssize_t work,
                        Py_ssize_t pass_work) noexcept nogil:
    """A cut of one dimension of `side` rows or columns (the caller's choice) of a product of `work`
    multiply-adds, in a pass of `pass_work`: fixed blocks of `fixed_size` with thread_invariant, else one block
    per thread where it pays. A block b covers [b size, min((b + 1) size, side))."""
    cdef Split split
    cdef Py_ssize_t parts
    if threads.invariant:
        if not split_work(pass_work):
            return one_block(side)
        split.size = fixed_size
        split.count = n_blocks(side, fixed_size)
        split.threaded = use_threads(threads.n, pass_work) and split.count > 1
    else:
        parts = min(<Py_ssize_t> threads.n, work // threads.min_work, side // MIN_SPLIT)
        if not FASTBP_OPENMP_ENABLED or parts < 2:
            return one_block(side)
        split.size = n_blocks(n_blocks(side, parts), MIN_SPLIT) * MIN_SPLIT
        split.count = n_blocks(side, split.size)
        split.threaded = split.count > 1
    split.by_columns = False
    return split
