/* exp(x) for x <= 0 over an array, and the logistic layer built on it, written so that compilers vectorize
 * them.
 *
 * The logistic layers need exp(-|z|) for every unit of every row; libm's exp is a scalar call (about
 * 20 ns here), and GCC vectorizes calls to it only under -ffast-math, which fastbp never uses. This is
 * the classic reduction exp(x) = 2^k exp(r), k = round(x / ln 2), |r| <= ln(2) / 2, with exp(r) from its
 * Taylor polynomial (degree 13 in double, 7 in float, truncation below 0.05 ulp) and 2^k built from its
 * bits, with no branch or call in the loop. Measured against the correctly rounded exp (from the long
 * double one) over [-746, 0]: at most 1 ulp apart where the result is normal (tests/test_vecmath.py). Inputs below the underflow limit and -inf
 * give 0, NaN gives NaN; a positive x is read as -x.
 *
 * fastbp_bias_sigmoid_{d,f} compute z <- sigmoid(z + bias) over a row-major block in the stable form
 * 1 / (1 + e) for z >= 0, e / (1 + e) below, e = exp(-|z|), in three sweeps per chunk of CHUNK entries:
 * z + bias (also copied to a scratch), exp(-|.|) on the scratch, the quotient. The outer sweeps have no call or branch,
 * so they vectorize too (one fused loop branches on the sign of z, which is random, and mispredicts). A
 * chunk holds as many whole rows as fit, or a piece of one long row, so narrow layers make one exp pass
 * per chunk rather than one per row.
 *
 * On x86-64 with GCC or Clang two more copies of each are compiled, for AVX2 + FMA and for AVX-512 (F and DQ, with
 * 512-bit vectors), and the widest one the CPU runs is chosen once at import (fastbp_vecmath_init); any
 * other build runs the portable copy. The FMA copies give the same bits as each other (the same
 * operations, only more lanes at a time); AVX-512 took 0.6 to 0.7 times the AVX2 copy's time on a Zen 4
 * EPYC (double and float, 512 entries at a time).
 */
#ifndef FASTBP_VECMATH_H
#define FASTBP_VECMATH_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define FASTBP_X86_DISPATCH 1
#define FASTBP_INLINE static inline __attribute__((always_inline))
#else
#define FASTBP_X86_DISPATCH 0
#define FASTBP_INLINE static inline
#endif

FASTBP_INLINE void fastbp_exp_nonpositive_d_body(double *x, ptrdiff_t n)
{
    const double log2e = 1.4426950408889634, shift = 0x1.8p52;
    /* ln 2 split so that k * LN2_HI is exact for |k| <= 2^11 (fdlibm's constants). */
    const double ln2_hi = 6.93147180369123816490e-01, ln2_lo = 1.90821492927058770002e-10;
    const double low = -745.5;                 /* exp(low) rounds to 0 */
    uint64_t shift_bits;
    int64_t low_bits;
    memcpy(&shift_bits, &shift, sizeof shift_bits);
    memcpy(&low_bits, &low, sizeof low_bits);
    for (ptrdiff_t i = 0; i < n; i++) {
        /* max(x, low) on the bits: with the sign bit set (+0 becomes -0), they grow as signed integers
         * while x goes down. (A floating-point comparison here becomes a branch, which stops the
         * vectorizer.) */
        int64_t x_bits, v_bits;
        double v;
        memcpy(&x_bits, &x[i], sizeof x_bits);
        v_bits = x_bits | INT64_MIN;
        v_bits = v_bits > low_bits ? low_bits : v_bits;
        memcpy(&v, &v_bits, sizeof v);
        double t = v * log2e + shift;          /* round(v / ln 2) lands in t's low mantissa bits */
        double k = t - shift;
        double r = (v - k * ln2_hi) - k * ln2_lo;
        double p = 1.0 / 6227020800.0;         /* 1/13!, then Horner down to 1/0! */
        p = p * r + 1.0 / 479001600.0;
        p = p * r + 1.0 / 39916800.0;
        p = p * r + 1.0 / 3628800.0;
        p = p * r + 1.0 / 362880.0;
        p = p * r + 1.0 / 40320.0;
        p = p * r + 1.0 / 5040.0;
        p = p * r + 1.0 / 720.0;
        p = p * r + 1.0 / 120.0;
        p = p * r + 1.0 / 24.0;
        p = p * r + 1.0 / 6.0;
        p = p * r + 0.5;
        p = p * r + 1.0;
        p = p * r + 1.0;
        /* 2^k = 2^-h1 * 2^-h2 with -k = h1 + h2 >= 0: two normal numbers even where 2^k is subnormal. */
        uint64_t t_bits, s1_bits, s2_bits;
        memcpy(&t_bits, &t, sizeof t_bits);
        uint64_t minus_k = shift_bits - t_bits;
        uint64_t h1 = minus_k >> 1, h2 = minus_k - h1;
        s1_bits = (1023 - h1) << 52;
        s2_bits = (1023 - h2) << 52;
        double s1, s2, y;
        memcpy(&s1, &s1_bits, sizeof s1);
        memcpy(&s2, &s2_bits, sizeof s2);
        y = p * s1 * s2;
        /* NaN in, NaN out (the clamp made it -745.5): set y's exponent and quiet bit, without a branch. */
        uint64_t y_bits, nan_mask = -(uint64_t)((int64_t)((uint64_t)x_bits & 0x7FFFFFFFFFFFFFFFull)
                                               > (int64_t)0x7FF0000000000000ll);
        memcpy(&y_bits, &y, sizeof y_bits);
        y_bits |= nan_mask & 0x7FF8000000000000ull;
        memcpy(&x[i], &y_bits, sizeof y_bits);
    }
}

FASTBP_INLINE void fastbp_exp_nonpositive_f_body(float *x, ptrdiff_t n)
{
    const float log2e = 1.44269504f, shift = 0x1.8p23f;
    const float ln2_hi = 0.693145751953125f, ln2_lo = 1.428606765330187045e-06f;
    const float low = -104.0f;                 /* expf(low) rounds to 0 */
    uint32_t shift_bits;
    int32_t low_bits;
    memcpy(&shift_bits, &shift, sizeof shift_bits);
    memcpy(&low_bits, &low, sizeof low_bits);
    for (ptrdiff_t i = 0; i < n; i++) {
        int32_t x_bits, v_bits;
        float v;
        memcpy(&x_bits, &x[i], sizeof x_bits);
        v_bits = x_bits | INT32_MIN;
        v_bits = v_bits > low_bits ? low_bits : v_bits;
        memcpy(&v, &v_bits, sizeof v);
        float t = v * log2e + shift;
        float k = t - shift;
        float r = (v - k * ln2_hi) - k * ln2_lo;
        float p = 1.0f / 5040.0f;              /* 1/7!, then Horner down to 1/0! */
        p = p * r + 1.0f / 720.0f;
        p = p * r + 1.0f / 120.0f;
        p = p * r + 1.0f / 24.0f;
        p = p * r + 1.0f / 6.0f;
        p = p * r + 0.5f;
        p = p * r + 1.0f;
        p = p * r + 1.0f;
        uint32_t t_bits, s1_bits, s2_bits;
        memcpy(&t_bits, &t, sizeof t_bits);
        uint32_t minus_k = shift_bits - t_bits;
        uint32_t h1 = minus_k >> 1, h2 = minus_k - h1;
        s1_bits = (127 - h1) << 23;
        s2_bits = (127 - h2) << 23;
        float s1, s2, y;
        memcpy(&s1, &s1_bits, sizeof s1);
        memcpy(&s2, &s2_bits, sizeof s2);
        y = p * s1 * s2;
        uint32_t y_bits, nan_mask = -(uint32_t)((int32_t)((uint32_t)x_bits & 0x7FFFFFFFu) > (int32_t)0x7F800000);
        memcpy(&y_bits, &y, sizeof y_bits);
        y_bits |= nan_mask & 0x7FC00000u;
        memcpy(&x[i], &y_bits, sizeof y_bits);
    }
}

#define FASTBP_CHUNK 512

#define FASTBP_BIAS_SIGMOID_BODY(T, EXP)                                                                    \
    T e[FASTBP_CHUNK];                                                                                     \
    ptrdiff_t rows = n_cols > 0 && n_cols <= FASTBP_CHUNK ? FASTBP_CHUNK / n_cols : 1;                     \
    for (ptrdiff_t i = 0; i < n_rows;) {                                                                   \
        if (n_cols <= FASTBP_CHUNK) {                                                                      \
            ptrdiff_t count = rows < n_rows - i ? rows : n_rows - i;                                       \
            for (ptrdiff_t r = 0; r < count; r++) {                                                        \
                T *row = z + (i + r) * ld, *er = e + r * n_cols;                                           \
                for (ptrdiff_t j = 0; j < n_cols; j++) {                                                   \
                    row[j] = row[j] + bias[j];                                                             \
                    er[j] = row[j]; /* the exp reads it as -|z| */                                          \
                }                                                                                          \
            }                                                                                              \
            EXP(e, count * n_cols);                                                                        \
            for (ptrdiff_t r = 0; r < count; r++) {                                                        \
                T *row = z + (i + r) * ld, *er = e + r * n_cols;                                           \
                for (ptrdiff_t j = 0; j < n_cols; j++)                                                     \
                    row[j] = (row[j] >= 0 ? (T)1 : er[j]) / (1 + er[j]);                                   \
            }                                                                                              \
            i += count;                                                                                    \
            continue;                                                                                      \
        }                                                                                                  \
        for (ptrdiff_t start = 0; start < n_cols; start += FASTBP_CHUNK) {                                 \
            T *row = z + i * ld + start;                                                                   \
            ptrdiff_t count = n_cols - start < FASTBP_CHUNK ? n_cols - start : FASTBP_CHUNK;               \
            for (ptrdiff_t j = 0; j < count; j++) {                                                        \
                row[j] = row[j] + bias[start + j];                                                         \
                e[j] = row[j];                                                                             \
            }                                                                                              \
            EXP(e, count);                                                                                 \
            for (ptrdiff_t j = 0; j < count; j++)                                                          \
                row[j] = (row[j] >= 0 ? (T)1 : e[j]) / (1 + e[j]);                                         \
        }                                                                                                  \
        i++;                                                                                               \
    }

FASTBP_INLINE void fastbp_bias_sigmoid_d_body(double *z, const double *bias, ptrdiff_t n_rows, ptrdiff_t n_cols,
                                              ptrdiff_t ld)
{
    FASTBP_BIAS_SIGMOID_BODY(double, fastbp_exp_nonpositive_d_body)
}

FASTBP_INLINE void fastbp_bias_sigmoid_f_body(float *z, const float *bias, ptrdiff_t n_rows, ptrdiff_t n_cols,
                                              ptrdiff_t ld)
{
    FASTBP_BIAS_SIGMOID_BODY(float, fastbp_exp_nonpositive_f_body)
}

/* The copies, narrowest first: what fastbp_vecmath_level() reports and fastbp_vecmath_set_level() takes. */
enum { FASTBP_LEVEL_PORTABLE = 0, FASTBP_LEVEL_AVX2 = 1, FASTBP_LEVEL_AVX512 = 2 };

#define FASTBP_AVX2 __attribute__((target("avx2,fma")))
#define FASTBP_AVX512 __attribute__((target("avx512f,avx512dq,prefer-vector-width=512")))

/* Each kernel: its CPU-specific copies, and the function that runs the one in use. */
#if FASTBP_X86_DISPATCH
#define FASTBP_DISPATCHED(name, params, args)                                                               \
    FASTBP_AVX2 static void name##_avx2 params { name##_body args; }                                       \
    FASTBP_AVX512 static void name##_avx512 params { name##_body args; }                                   \
    static void name params                                                                                \
    {                                                                                                      \
        if (fastbp_vecmath_used == FASTBP_LEVEL_AVX512)                                                    \
            name##_avx512 args;                                                                            \
        else if (fastbp_vecmath_used == FASTBP_LEVEL_AVX2)                                                 \
            name##_avx2 args;                                                                              \
        else                                                                                               \
            name##_body args;                                                                              \
    }
#else
#define FASTBP_DISPATCHED(name, params, args) static void name params { name##_body args; }
#endif

static int fastbp_vecmath_best = FASTBP_LEVEL_PORTABLE;   /* the widest copy this CPU runs */
static int fastbp_vecmath_used = FASTBP_LEVEL_PORTABLE;   /* the copy in use */

/* Choose the copies for this CPU; called once when the module is imported, before any thread runs. */
static void fastbp_vecmath_init(void)
{
#if FASTBP_X86_DISPATCH
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq"))
        fastbp_vecmath_best = FASTBP_LEVEL_AVX512;
    else if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
        fastbp_vecmath_best = FASTBP_LEVEL_AVX2;
#endif
    fastbp_vecmath_used = fastbp_vecmath_best;
}

static int fastbp_vecmath_level(void) { return fastbp_vecmath_used; }
static int fastbp_vecmath_best_level(void) { return fastbp_vecmath_best; }

/* Tests run every copy the CPU has: use `level`, or the widest one the CPU runs if that is narrower. */
static void fastbp_vecmath_set_level(int level)
{
    fastbp_vecmath_used = level < fastbp_vecmath_best ? level : fastbp_vecmath_best;
}

/* x[i] <- exp(x[i]) for i < n, every x[i] <= 0 (NaN stays NaN). */
FASTBP_DISPATCHED(fastbp_exp_nonpositive_d, (double *x, ptrdiff_t n), (x, n))
FASTBP_DISPATCHED(fastbp_exp_nonpositive_f, (float *x, ptrdiff_t n), (x, n))

/* z[i * ld + j] <- sigmoid(z[i * ld + j] + bias[j]) for i < n_rows, j < n_cols. */
FASTBP_DISPATCHED(fastbp_bias_sigmoid_d, (double *z, const double *bias, ptrdiff_t n_rows, ptrdiff_t n_cols,
                                          ptrdiff_t ld), (z, bias, n_rows, n_cols, ld))
FASTBP_DISPATCHED(fastbp_bias_sigmoid_f, (float *z, const float *bias, ptrdiff_t n_rows, ptrdiff_t n_cols,
                                          ptrdiff_t ld), (z, bias, n_rows, n_cols, ld))

#endif
