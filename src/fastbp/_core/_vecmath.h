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
 *
 * The rest are loops the compiler vectorizes well for a wider unit than the wheels' baseline (SSE2), copied
 * the same way: a product of a few rows, dropout's masks, column sums and y + a x (the categorical lookups).
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

/* GELU, exact: gelu(z) = z Phi(z) with Phi(z) = (1 + erf(z / sqrt 2)) / 2, and its derivative
 * Phi(z) + z phi(z), phi(z) = exp(-z^2 / 2) / sqrt(2 pi), over an array, with no call or branch in its loops.
 * libm's erf is a scalar call that GCC never vectorizes; this one writes erf(a), a = |z| / sqrt 2, as
 *   a < 1:  a (2 / sqrt pi) + a^3 Q(a^2), Q of degree 11;
 *   a >= 1: 1 - erfc(a), erfc(a) = exp(-a^2) erfcx(a), erfcx(a) = R(t) with R of degree 29 in
 *           t = 0.4 min(a, 6) - 1.4 below a = 6 and G(1 / a^2) / (a sqrt pi) from there on (erf(a) itself
 *           rounds to 1 there; erfc(a) matters for z < 0),
 * with Q, R and G Chebyshev fits (mpmath's chebyfit at 50 digits, of (erf(a) / a - 2 / sqrt pi) / a^2 on [0, 1],
 * of the scaled complement erfcx(a) = exp(a^2) erfc(a) on [1, 6], and of a sqrt(pi) erfcx(a) in 1 / a^2 on
 * [6, inf); fit errors below 6e-18 relative), each
 * evaluated by Horner's rule and the two joined by a select. exp(-a^2) = exp(-z^2 / 2) serves phi too, from the
 * vectorized exp above. For z < 0, Phi is erfc(a) / 2 itself, so gelu(z) keeps its relative accuracy where
 * it is small (the usual z (1 + erf) / 2 loses it): within 6 ulp of mpmath's wherever it is a normal number, 12
 * on the portable copy (tests/test_vecmath.py). x[i] <- gelu(x[i]) and,
 * when derivative is not NULL, derivative[i] <- gelu'(x[i]), for i < n. */
FASTBP_INLINE void fastbp_gelu_d_body(double *x, double *derivative, ptrdiff_t n)
{
    const double sqrt1_2 = 0.70710678118654752440, inv_sqrt_2pi = 0.39894228040143267794;
    double e[FASTBP_CHUNK];
    for (ptrdiff_t start = 0; start < n; start += FASTBP_CHUNK) {
        ptrdiff_t count = n - start < FASTBP_CHUNK ? n - start : FASTBP_CHUNK;
        double *xs = x + start;
        for (ptrdiff_t i = 0; i < count; i++) {
            double y = __builtin_fabs(xs[i]) < 40.0 ? xs[i] : 40.0;  /* exp(-800) is 0 already */
            e[i] = -0.5 * (y * y);
        }
        fastbp_exp_nonpositive_d_body(e, count);
        for (ptrdiff_t i = 0; i < count; i++) {
            double z = xs[i];
            double a = __builtin_fabs(z * sqrt1_2), s = a * a;
            /* exp(-z^2 / 2) from the exact square z^2 = hi + lo (an FMA gives lo): the rounding of z^2 alone
             * would cost up to z^2 / 2 ulp of erfc and phi in the tails. */
            double y = __builtin_fabs(z) < 40.0 ? z : 40.0, hi = y * y, lo = __builtin_fma(y, y, -hi);
            double gauss = e[i] * (1.0 - 0.5 * lo);   /* exp(-(hi + lo) / 2) */
            double q = 6.174097221305255e-11;
            q = q * s + -1.1500357159785296e-09;
            q = q * s + 1.4692484859133263e-08;
            q = q * s + -1.6355118610877705e-07;
            q = q * s + 1.6461446656928561e-06;
            q = q * s + -1.4925622504489842e-05;
            q = q * s + 0.00012055332214716276;
            q = q * s + -0.0008548327010033328;
            q = q * s + 0.005223977625303518;
            q = q * s + -0.026866170645123838;
            q = q * s + 0.11283791670955111;
            q = q * s + -0.37612638903183754;
            double small = a * 1.1283791670955126 + (a * s) * q;
            double t = (a < 6.0 ? a : 6.0) * 0.4 - 1.4;
            double r = -1.4479464300262855e-09;
            r = r * t + 3.555964753024834e-09;
            r = r * t + 2.203648393927714e-09;
            r = r * t + -5.788800082379115e-09;
            r = r * t + -2.1641342219954443e-08;
            r = r * t + 5.158307441554354e-08;
            r = r * t + -4.841629944913183e-08;
            r = r * t + 1.0532664214626851e-07;
            r = r * t + -3.227264363656852e-07;
            r = r * t + 7.117053416590745e-07;
            r = r * t + -1.4615385561115369e-06;
            r = r * t + 3.1225510221476298e-06;
            r = r * t + -6.6422186210437495e-06;
            r = r * t + 1.3832421918659423e-05;
            r = r * t + -2.8376281485934893e-05;
            r = r * t + 5.741680994974455e-05;
            r = r * t + -0.00011444247762230747;
            r = r * t + 0.00022453088978866036;
            r = r * t + -0.00043336170490803185;
            r = r * t + 0.0008222550987233205;
            r = r * t + -0.001532515711226679;
            r = r * t + 0.0028033262034199737;
            r = r * t + -0.005028067968654204;
            r = r * t + 0.00883342391529903;
            r = r * t + -0.015182511545620832;
            r = r * t + 0.025495559643743348;
            r = r * t + -0.04176678811943188;
            r = r * t + 0.0666320824531906;
            r = r * t + -0.10330894458313124;
            r = r * t + 0.1552936556088943;
            double u = 1.0 / (a * a);
            double g = 163198.90105722388;
            g = g * u + -44322.389845306614;
            g = g * u + 7186.220337647256;
            g = g * u + -1040.273582206813;
            g = g * u + 162.2046560799878;
            g = g * u + -29.529253063162052;
            g = g * u + 6.562488415851431;
            g = g * u + -1.8749999604706094;
            g = g * u + 0.7499999999303896;
            g = g * u + -0.4999999999999519;
            g = g * u + 1.0;
            double tail = gauss * (a < 6.0 ? r : g * (0.5641895835477563 / a));  /* erfc(a), for a >= 1 */
            /* Phi(z) = (1 + erf(a)) / 2 for z >= 0 and erfc(a) / 2 below: never 1 - (1 - erfc), which would
             * lose erfc's digits where Phi is small. */
            double phi = z < 0 ? 0.5 * (a < 1.0 ? 1.0 - small : tail) : 0.5 * (1.0 + (a < 1.0 ? small : 1.0 - tail));
            if (derivative != NULL)
                derivative[start + i] = phi + z * gauss * inv_sqrt_2pi;
            xs[i] = z * phi;
        }
    }
}

/* z (n_rows, n_out) <- a (n_rows, n_in) W (n_in, n_out), row-major, for a few rows: each output row the sum of
 * W's rows scaled by the row's entries, in order. A BLAS call's set-up is most of the time of one row's
 * product; this loop vectorizes over n_out (and fuses each multiply-add in the FMA copies). */
#define FASTBP_ROWS_TIMES_BODY(T)                                                                           \
    for (ptrdiff_t i = 0; i < n_rows; i++) {                                                               \
        T *zr = z + i * n_out;                                                                             \
        const T *ar = a + i * n_in;                                                                        \
        for (ptrdiff_t j = 0; j < n_out; j++)                                                              \
            zr[j] = 0;                                                                                     \
        for (ptrdiff_t k = 0; k < n_in; k++) {                                                             \
            const T x = ar[k], *w = W + k * n_out;                                                         \
            for (ptrdiff_t j = 0; j < n_out; j++)                                                          \
                zr[j] = zr[j] + x * w[j];                                                                  \
        }                                                                                                  \
    }

FASTBP_INLINE void fastbp_rows_times_d_body(const double *restrict a, const double *restrict W, ptrdiff_t n_rows,
                                            ptrdiff_t n_in, ptrdiff_t n_out, double *restrict z)
{
    FASTBP_ROWS_TIMES_BODY(double)
}

FASTBP_INLINE void fastbp_rows_times_f_body(const float *restrict a, const float *restrict W, ptrdiff_t n_rows,
                                            ptrdiff_t n_in, ptrdiff_t n_out, float *restrict z)
{
    FASTBP_ROWS_TIMES_BODY(float)
}

/* Dropout (see _masks.pxd): the 32 bits of units first_unit .. first_unit + n - 1 of the row whose key is
 * row_key, fmix32(fmix32(low(row_key) ^ (unit * 0x9E3779B9)) ^ high(row_key)); then the units' values times
 * `scale` where their bits are below `threshold`, else times 0 (in double, rounded once for float). Integer
 * arithmetic and one product per unit: every copy gives the same bits. The portable copy is SSE2's, which has
 * no 32-bit vector multiply; the AVX2 and AVX-512 copies hash 8 and 16 units at once. */
FASTBP_INLINE uint32_t fastbp_fmix32(uint32_t h)
{
    h ^= h >> 16;
    h *= 0x85EBCA6BU;
    h ^= h >> 13;
    h *= 0xC2B2AE35U;
    return h ^ (h >> 16);
}

FASTBP_INLINE void fastbp_mask_bits_body(uint64_t row_key, uint32_t first_unit, ptrdiff_t n, uint32_t *restrict bits)
{
    const uint32_t low = (uint32_t)row_key, high = (uint32_t)(row_key >> 32);
    for (ptrdiff_t k = 0; k < n; k++)
        bits[k] = fastbp_fmix32(fastbp_fmix32(low ^ ((first_unit + (uint32_t)k) * 0x9E3779B9U)) ^ high);
}

#define FASTBP_DROP_BODY(T)                                                                                  \
    for (ptrdiff_t k = 0; k < n; k++)                                                                      \
        x[k] = (T)((double)x[k] * (bits[k] < threshold ? scale : 0.0));

FASTBP_INLINE void fastbp_drop_d_body(double *restrict x, const uint32_t *restrict bits, ptrdiff_t n,
                                      uint32_t threshold, double scale)
{
    FASTBP_DROP_BODY(double)
}

FASTBP_INLINE void fastbp_drop_f_body(float *restrict x, const uint32_t *restrict bits, ptrdiff_t n,
                                      uint32_t threshold, double scale)
{
    FASTBP_DROP_BODY(float)
}

/* y[o] <- y[o] + a * x[o] for o < n: a product, then a sum, never one fused multiply-add, so that every copy gives
 * the portable copy's bits (each entry's own two operations, only more lanes at a time); with a = 1, y[o] + x[o].
 * The categorical columns' lookups: a row of W into a layer's output, a row of deltas into W's gradient and into
 * a shared bias's. GCC fuses a * x + y in FMA copies unless told not to (clang within one expression). */
#if defined(__clang__)
#define FASTBP_UNFUSED _Pragma("clang fp contract(off)")
#define FASTBP_NO_CONTRACT
#elif defined(__GNUC__)
#define FASTBP_UNFUSED
#define FASTBP_NO_CONTRACT __attribute__((optimize("fp-contract=off")))
#else
#define FASTBP_UNFUSED
#define FASTBP_NO_CONTRACT
#endif

#define FASTBP_ADD_SCALED_BODY(T)                                                                             \
    FASTBP_UNFUSED                                                                                           \
    for (ptrdiff_t o = 0; o < n; o++)                                                                        \
        y[o] = y[o] + a * x[o];

FASTBP_NO_CONTRACT FASTBP_INLINE void fastbp_add_scaled_d_body(double *restrict y, const double *restrict x, double a,
                                                               ptrdiff_t n)
{
    FASTBP_ADD_SCALED_BODY(double)
}

FASTBP_NO_CONTRACT FASTBP_INLINE void fastbp_add_scaled_f_body(float *restrict y, const float *restrict x, float a,
                                                               ptrdiff_t n)
{
    FASTBP_ADD_SCALED_BODY(float)
}

/* sums[j] <- the sum of a[i * lda + j] over i < n_rows, in row order, for j < n_cols: a bias's gradient. */
#define FASTBP_COLUMN_SUMS_BODY(T)                                                                            \
    for (ptrdiff_t j = 0; j < n_cols; j++)                                                                   \
        sums[j] = 0;                                                                                         \
    for (ptrdiff_t i = 0; i < n_rows; i++)                                                                   \
        for (ptrdiff_t j = 0; j < n_cols; j++)                                                               \
            sums[j] = sums[j] + a[i * lda + j];

FASTBP_INLINE void fastbp_column_sums_d_body(const double *restrict a, ptrdiff_t n_rows, ptrdiff_t n_cols,
                                             ptrdiff_t lda, double *restrict sums)
{
    FASTBP_COLUMN_SUMS_BODY(double)
}

FASTBP_INLINE void fastbp_column_sums_f_body(const float *restrict a, ptrdiff_t n_rows, ptrdiff_t n_cols,
                                             ptrdiff_t lda, float *restrict sums)
{
    FASTBP_COLUMN_SUMS_BODY(float)
}

/* The copies, narrowest first: what fastbp_vecmath_level() reports and fastbp_vecmath_set_level() takes. */
enum { FASTBP_LEVEL_PORTABLE = 0, FASTBP_LEVEL_AVX2 = 1, FASTBP_LEVEL_AVX512 = 2 };

#define FASTBP_AVX2 __attribute__((target("avx2,fma")))
#define FASTBP_AVX512 __attribute__((target("avx512f,avx512dq,prefer-vector-width=512")))

/* Each kernel: its CPU-specific copies, and the function that runs the one in use. */
#if FASTBP_X86_DISPATCH
#define FASTBP_DISPATCHED(name, params, args) FASTBP_DISPATCHED_AS(name, params, args, )
#define FASTBP_DISPATCHED_AS(name, params, args, attributes)                                                \
    FASTBP_AVX2 attributes static void name##_avx2 params { name##_body args; }                            \
    FASTBP_AVX512 attributes static void name##_avx512 params { name##_body args; }                        \
    attributes static void name params                                                                     \
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
#define FASTBP_DISPATCHED_AS(name, params, args, attributes)                                                \
    attributes static void name params { name##_body args; }
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

/* z <- a W for n_rows rows (see FASTBP_ROWS_TIMES_BODY). */
FASTBP_DISPATCHED(fastbp_rows_times_d, (const double *a, const double *W, ptrdiff_t n_rows, ptrdiff_t n_in,
                                        ptrdiff_t n_out, double *z), (a, W, n_rows, n_in, n_out, z))
FASTBP_DISPATCHED(fastbp_rows_times_f, (const float *a, const float *W, ptrdiff_t n_rows, ptrdiff_t n_in,
                                        ptrdiff_t n_out, float *z), (a, W, n_rows, n_in, n_out, z))

/* bits[k] <- the dropout bits of unit first_unit + k of a row, for k < n; x[k] <- x[k] times scale or 0 by them. */
FASTBP_DISPATCHED(fastbp_mask_bits, (uint64_t row_key, uint32_t first_unit, ptrdiff_t n, uint32_t *bits),
                  (row_key, first_unit, n, bits))
FASTBP_DISPATCHED(fastbp_drop_d, (double *x, const uint32_t *bits, ptrdiff_t n, uint32_t threshold, double scale),
                  (x, bits, n, threshold, scale))
FASTBP_DISPATCHED(fastbp_drop_f, (float *x, const uint32_t *bits, ptrdiff_t n, uint32_t threshold, double scale),
                  (x, bits, n, threshold, scale))

/* sums (n_cols,) <- the column sums of the (n_rows, n_cols) block a, leading dimension lda, in row order. */
FASTBP_DISPATCHED(fastbp_column_sums_d, (const double *a, ptrdiff_t n_rows, ptrdiff_t n_cols, ptrdiff_t lda,
                                         double *sums), (a, n_rows, n_cols, lda, sums))
FASTBP_DISPATCHED(fastbp_column_sums_f, (const float *a, ptrdiff_t n_rows, ptrdiff_t n_cols, ptrdiff_t lda,
                                         float *sums), (a, n_rows, n_cols, lda, sums))

/* y[o] <- y[o] + a * x[o] for o < n, unfused (see FASTBP_ADD_SCALED_BODY). */
FASTBP_DISPATCHED_AS(fastbp_add_scaled_d, (double *y, const double *x, double a, ptrdiff_t n), (y, x, a, n),
                     FASTBP_NO_CONTRACT)
FASTBP_DISPATCHED_AS(fastbp_add_scaled_f, (float *y, const float *x, float a, ptrdiff_t n), (y, x, a, n),
                     FASTBP_NO_CONTRACT)

/* x[i] <- gelu(x[i]), and derivative[i] <- gelu'(x[i]) unless derivative is NULL, for i < n. */
FASTBP_DISPATCHED(fastbp_gelu_d, (double *x, double *derivative, ptrdiff_t n), (x, derivative, n))

#endif
