/* The optimizers' per-element updates (`_optim.pyx`), in C so that they get the CPU-specific copies of
 * `_vecmath.h`: one loop per kind and option, over n entries, with no call or branch inside, compiled for
 * SSE2 (portable), AVX2 and AVX-512 and dispatched at import. The updates are memory- and division-bound:
 * AVX-512 divides 8 doubles or 16 floats at a time where SSE2 divides 2 or 4.
 *
 * Every copy computes the same IEEE operations in the same order, with multiply-adds never fused
 * (fp-contract off below), so the copies give the same bits as each other and as `_optim.pyx`'s definitions
 * of the updates (each kernel's docstring there): a wider CPU changes the speed, never the trajectory.
 *
 * Each update: the decoupled weight decay params *= keep (keep is 1 for intercepts and optimizers without
 * decay), the gradient g = grad * scale (the clipping factor, 1 when unclipped), then the kind's step.
 */
#ifndef FASTBP_UPDATES_H
#define FASTBP_UPDATES_H

#include <math.h>

#include "_vecmath.h"

#pragma STDC FP_CONTRACT OFF
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC push_options
#pragma GCC optimize("fp-contract=off")
#endif

#define FASTBP_SQRT_double sqrt
#define FASTBP_SQRT_float sqrtf

/* SGD: velocity <- momentum velocity - lr g; params += velocity (Nesterov: momentum velocity - lr g). Without
 * momentum, params += -(lr g), and the velocity is not touched. */
#define FASTBP_SGD_BODY(T)                                                                                  \
    if (momentum == 0) {                                                                                   \
        for (ptrdiff_t i = 0; i < n; i++) {                                                                \
            T g = grad[i] * scale;                                                                         \
            params[i] = params[i] * keep;                                                                  \
            params[i] += -(lr * g);                                                                        \
        }                                                                                                  \
    } else if (nesterov) {                                                                                 \
        for (ptrdiff_t i = 0; i < n; i++) {                                                                \
            T g = grad[i] * scale;                                                                         \
            params[i] = params[i] * keep;                                                                  \
            velocity[i] = momentum * velocity[i] - lr * g;                                                 \
            params[i] += momentum * velocity[i] - lr * g;                                                  \
        }                                                                                                  \
    } else {                                                                                               \
        for (ptrdiff_t i = 0; i < n; i++) {                                                                \
            T g = grad[i] * scale;                                                                         \
            params[i] = params[i] * keep;                                                                  \
            velocity[i] = momentum * velocity[i] - lr * g;                                                 \
            params[i] += velocity[i];                                                                      \
        }                                                                                                  \
    }

/* scikit-learn's Adam, the update in double (step_size, a double, promotes it as NumPy does). */
#define FASTBP_ADAM_BODY(T)                                                                                 \
    for (ptrdiff_t i = 0; i < n; i++) {                                                                    \
        T g = grad[i] * scale;                                                                             \
        m[i] = beta_1 * m[i] + one_minus_beta_1 * g;                                                       \
        v[i] = beta_2 * v[i] + one_minus_beta_2 * (g * g);                                                 \
        T denominator = (T)FASTBP_SQRT_##T(v[i]) + epsilon;                                                \
        params[i] = (T)(params[i] + (-step_size) * m[i] / (double)denominator);                            \
    }

/* PyTorch's AdamW (its lerp, addcmul and addcdiv). */
#define FASTBP_ADAMW_BODY(T)                                                                                \
    for (ptrdiff_t i = 0; i < n; i++) {                                                                    \
        T g = grad[i] * scale;                                                                             \
        params[i] = params[i] * keep;                                                                      \
        m[i] = m[i] + weight * (g - m[i]);                                                                 \
        v[i] = v[i] * beta_2 + one_minus_beta_2 * g * g;                                                   \
        T denominator = (T)FASTBP_SQRT_##T(v[i]) / correction + epsilon;                                   \
        params[i] = params[i] + (-step_size) * m[i] / denominator;                                         \
    }

/* PyTorch's RMSprop, its four forms. */
#define FASTBP_RMSPROP_BODY(T)                                                                              \
    for (ptrdiff_t i = 0; i < n; i++) {                                                                    \
        T g = grad[i] * scale, avg;                                                                        \
        square_avg[i] = square_avg[i] * rho + one_minus_rho * g * g;                                       \
        if (centered) {                                                                                    \
            grad_avg[i] = grad_avg[i] + one_minus_rho * (g - grad_avg[i]);                                 \
            avg = (T)FASTBP_SQRT_##T(square_avg[i] + (-1) * grad_avg[i] * grad_avg[i]) + epsilon;          \
        } else {                                                                                           \
            avg = (T)FASTBP_SQRT_##T(square_avg[i]) + epsilon;                                             \
        }                                                                                                  \
        if (momentum > 0) {                                                                                \
            buf[i] = buf[i] * momentum + g / avg;                                                          \
            params[i] = params[i] + (-lr) * buf[i];                                                        \
        } else {                                                                                           \
            params[i] = params[i] + (-lr) * g / avg;                                                       \
        }                                                                                                  \
    }

/* PyTorch's Adagrad, without learning-rate decay. */
#define FASTBP_ADAGRAD_BODY(T)                                                                              \
    for (ptrdiff_t i = 0; i < n; i++) {                                                                    \
        T g = grad[i] * scale;                                                                             \
        total[i] = total[i] + g * g;                                                                       \
        T std = (T)FASTBP_SQRT_##T(total[i]) + epsilon;                                                    \
        params[i] = params[i] + (-lr) * g / std;                                                           \
    }

#define FASTBP_UPDATES(T, S)                                                                                \
    FASTBP_INLINE void fastbp_sgd_##S##_body(T *restrict params, const T *restrict grad, T *restrict velocity, \
                                             ptrdiff_t n, T lr, T momentum, int nesterov, T keep, T scale)   \
    {                                                                                                      \
        FASTBP_SGD_BODY(T)                                                                                 \
    }                                                                                                      \
    FASTBP_INLINE void fastbp_adam_##S##_body(T *restrict params, const T *restrict grad, T *restrict m,      \
                                              T *restrict v, ptrdiff_t n, const T *coefficients,             \
                                              double step_size, T scale)                                     \
    {                                                                                                      \
        const T beta_1 = coefficients[0], one_minus_beta_1 = coefficients[1], beta_2 = coefficients[2],     \
                one_minus_beta_2 = coefficients[3], epsilon = coefficients[4];                              \
        FASTBP_ADAM_BODY(T)                                                                                \
    }                                                                                                      \
    FASTBP_INLINE void fastbp_adamw_##S##_body(T *restrict params, const T *restrict grad, T *restrict m,     \
                                               T *restrict v, ptrdiff_t n, const T *coefficients, T keep,    \
                                               T scale)                                                      \
    {                                                                                                      \
        const T weight = coefficients[0], beta_2 = coefficients[1], one_minus_beta_2 = coefficients[2],     \
                epsilon = coefficients[3], step_size = coefficients[4], correction = coefficients[5];       \
        FASTBP_ADAMW_BODY(T)                                                                               \
    }                                                                                                      \
    FASTBP_INLINE void fastbp_rmsprop_##S##_body(T *restrict params, const T *restrict grad,                 \
                                                 T *restrict square_avg, T *restrict buf, T *restrict grad_avg, \
                                                 ptrdiff_t n, const T *coefficients, T scale)                \
    {                                                                                                      \
        const T rho = coefficients[0], one_minus_rho = coefficients[1], epsilon = coefficients[2],          \
                momentum = coefficients[3], lr = coefficients[4];                                           \
        const int centered = coefficients[5] != 0;                                                         \
        FASTBP_RMSPROP_BODY(T)                                                                             \
    }                                                                                                      \
    FASTBP_INLINE void fastbp_adagrad_##S##_body(T *restrict params, const T *restrict grad,                 \
                                                 T *restrict total, ptrdiff_t n, T lr, T epsilon, T scale)   \
    {                                                                                                      \
        FASTBP_ADAGRAD_BODY(T)                                                                             \
    }

FASTBP_UPDATES(double, d)
FASTBP_UPDATES(float, f)

#define FASTBP_UPDATE_KERNELS(T, S)                                                                         \
    FASTBP_DISPATCHED(fastbp_sgd_##S, (T *params, const T *grad, T *velocity, ptrdiff_t n, T lr, T momentum,  \
                                       int nesterov, T keep, T scale),                                       \
                      (params, grad, velocity, n, lr, momentum, nesterov, keep, scale))                      \
    FASTBP_DISPATCHED(fastbp_adam_##S, (T *params, const T *grad, T *m, T *v, ptrdiff_t n, const T *coefficients, \
                                        double step_size, T scale),                                          \
                      (params, grad, m, v, n, coefficients, step_size, scale))                               \
    FASTBP_DISPATCHED(fastbp_adamw_##S, (T *params, const T *grad, T *m, T *v, ptrdiff_t n,                  \
                                         const T *coefficients, T keep, T scale),                            \
                      (params, grad, m, v, n, coefficients, keep, scale))                                    \
    FASTBP_DISPATCHED(fastbp_rmsprop_##S, (T *params, const T *grad, T *square_avg, T *buf, T *grad_avg,     \
                                           ptrdiff_t n, const T *coefficients, T scale),                     \
                      (params, grad, square_avg, buf, grad_avg, n, coefficients, scale))                     \
    FASTBP_DISPATCHED(fastbp_adagrad_##S, (T *params, const T *grad, T *total, ptrdiff_t n, T lr, T epsilon, \
                                           T scale),                                                         \
                      (params, grad, total, n, lr, epsilon, scale))

FASTBP_UPDATE_KERNELS(double, d)
FASTBP_UPDATE_KERNELS(float, f)

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC pop_options
#endif

#endif
