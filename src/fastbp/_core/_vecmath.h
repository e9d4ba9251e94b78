/* exp(x) for x <= 0 over an array, written so that compilers vectorize it.
 *
 * The logistic layers need exp(-|z|) for every unit of every row; libm's exp is a scalar call (about
 * 20 ns here), and GCC vectorizes calls to it only under -ffast-math, which fastbp never uses. This is
 * the classic reduction exp(x) = 2^k exp(r), k = round(x / ln 2), |r| <= ln(2) / 2, with exp(r) from its
 * Taylor polynomial (degree 13 in double, 7 in float, truncation below 0.05 ulp) and 2^k built from its
 * bits, with no branch or call in the loop. Measured against numpy.exp over [-746, 0]: at most 1 ulp
 * apart where the result is normal (tests/test_vecmath.py). Inputs below the underflow limit and -inf
 * give 0, NaN gives NaN; a positive x is read as -x.
 *
 * On x86-64 with GCC or Clang a second copy is compiled for AVX2 + FMA and chosen once at import
 * (fastbp_vecmath_init) when the CPU has both; any other build runs the portable copy.
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

#if FASTBP_X86_DISPATCH
__attribute__((target("avx2,fma"))) static void fastbp_exp_nonpositive_d_avx2(double *x, ptrdiff_t n)
{
    fastbp_exp_nonpositive_d_body(x, n);
}

__attribute__((target("avx2,fma"))) static void fastbp_exp_nonpositive_f_avx2(float *x, ptrdiff_t n)
{
    fastbp_exp_nonpositive_f_body(x, n);
}
#endif

static int fastbp_use_avx2 = 0;

/* Choose the copy for this CPU; called once when the module is imported, before any thread runs. */
static void fastbp_vecmath_init(void)
{
#if FASTBP_X86_DISPATCH
    __builtin_cpu_init();
    fastbp_use_avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#endif
}

static int fastbp_vecmath_avx2(void) { return fastbp_use_avx2; }

/* Tests run both copies: 0 forces the portable one, 1 goes back to the CPU's choice. */
static void fastbp_vecmath_allow_avx2(int allow)
{
    fastbp_vecmath_init();
    fastbp_use_avx2 = fastbp_use_avx2 && allow;
}

/* x[i] <- exp(x[i]) for i < n, every x[i] <= 0 (NaN stays NaN). */
static void fastbp_exp_nonpositive_d(double *x, ptrdiff_t n)
{
#if FASTBP_X86_DISPATCH
    if (fastbp_use_avx2) {
        fastbp_exp_nonpositive_d_avx2(x, n);
        return;
    }
#endif
    fastbp_exp_nonpositive_d_body(x, n);
}

static void fastbp_exp_nonpositive_f(float *x, ptrdiff_t n)
{
#if FASTBP_X86_DISPATCH
    if (fastbp_use_avx2) {
        fastbp_exp_nonpositive_f_avx2(x, n);
        return;
    }
#endif
    fastbp_exp_nonpositive_f_body(x, n);
}

#endif
