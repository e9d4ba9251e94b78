# Dropout masks from a counter-based generator: whether unit j of row r of layer l is kept at step t of a fit
# with seed s is a pure function of (s, t, l, r, j), so the mask is the same on every backend, for any cut of a
# product into blocks and any number of threads, and a fit repeats bitwise. `fastbp.reference.dropout_mask`
# computes the same bits with NumPy.
#
# key(s, t, l) = splitmix64(splitmix64(splitmix64(s) ^ t) ^ l) once per layer and step; a row's key is
# splitmix64(key ^ r); unit j's 32 bits are fmix32(fmix32(low(row key) ^ (j * 0x9E3779B9)) ^ high(row key)), and
# the unit is kept when they are below floor((1 - p) 2^32) (`_vecmath.h`'s fastbp_mask_bits and fastbp_drop_*,
# vectorized). splitmix64 (Steele, Lea, Flood 2014) and MurmurHash3's
# fmix32 finalizer each pass every input bit to every output bit.

from libc.stdint cimport uint64_t


cdef inline uint64_t splitmix64(uint64_t x) noexcept nogil:
    cdef uint64_t z = x + <uint64_t> 0x9E3779B97F4A7C15ULL
    z = (z ^ (z >> 30)) * <uint64_t> 0xBF58476D1CE4E5B9ULL
    z = (z ^ (z >> 27)) * <uint64_t> 0x94D049BB133111EBULL
    return z ^ (z >> 31)


cdef inline uint64_t layer_key(uint64_t seed, uint64_t step, uint64_t layer) noexcept nogil:
    return splitmix64(splitmix64(splitmix64(seed) ^ step) ^ layer)


cdef inline uint64_t row_key(uint64_t key, uint64_t row) noexcept nogil:
    return splitmix64(key ^ row)


cdef inline double keep_scale(double rate) noexcept nogil:
    # What a kept unit is multiplied by (inverted dropout): the forward pass's mask and ReLU's backward factor,
    # which must agree bit for bit.
    return 1.0 / (1.0 - rate)


cdef inline uint64_t keep_threshold(double rate) noexcept nogil:
    # Units whose 32 bits are below this are kept: floor((1 - p) 2^32), exact in double; 2^32 keeps all.
    return <uint64_t> ((1.0 - rate) * 4294967296.0)


cdef struct MaskBlock:
    # The dropout of one layer for a block of its output in a training pass (IN). `active` False: no dropout.
    bint active
    uint64_t key                # layer_key(seed, step, layer)
    uint64_t threshold          # keep_threshold(rate)
    double scale                # 1 / (1 - rate), which the kept units are multiplied by (inverted dropout)
    Py_ssize_t first_row        # the block's first row and column in the layer's (n_rows, n_out) output
    Py_ssize_t first_col
