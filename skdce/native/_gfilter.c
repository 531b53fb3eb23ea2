/*
 * skdce.native._gfilter: the two-stage guided filter of
 * skdce/engine/stages/guided.py (denoise_block) and the noise map that steers
 * it (skdce/engine/stages/gain.py, added_noise), compiled.
 *
 * denoise() computes output rows r0:r1 of denoise_block(y, noise) for a whole
 * (h, w, c) block in one pass down the rows: each intermediate plane is kept
 * as a ring of the few rows its next box filter still needs, so the working
 * set stays in the core's cache however large the block (whole planes of a
 * 12-megapixel band did not), with scipy's mode="reflect" edges (d c b a |
 * a b c d, periodic with period 2n where a radius exceeds the size) at the
 * block's own edges. Each box mean is a direct sum of its 2r + 1 terms,
 * first down the columns, rounded to the block's dtype, then along the rows,
 * rounded again, in one fixed order: a value does not depend on which rows
 * were asked for, so bands of rows computed on several threads join bit for
 * bit. The moments that make variances and covariances are summed in double,
 * as scipy's uniform_filter does (which keeps running sums in double); the
 * other box means in the block's dtype (the notes above BOXROW_BODY say why). Every other
 * step is one operation of denoise_block in the block's dtype (float32 or
 * float64), in its order, without FMA contraction (-ffp-contract=off): the
 * result equals NumPy's up to the rounding of the box sums (float64: the
 * last bits; float32: a few 1e-7, tests/test_gfilter.py).
 *
 * noise_map() is the filter's strength (added_noise in
 * skdce/engine/stages/gain.py): the channel mean of the input and of the
 * alphas, the slope of the curves there (gain_block, same operations in the
 * same order) and
 * scale * sqrt(max(gain**2 - 1, 0)).
 *
 * Arrays are passed through the buffer protocol and their format, shape,
 * contiguity, alignment and overlap checked (the checks shared with
 * skdce.native._kernels, in _buffer.h); the GIL is released while a call computes.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "_buffer.h"

#if defined(__GNUC__) && defined(__x86_64__) && !defined(__clang__)
#define MULTIVERSION __attribute__((target_clones("arch=x86-64-v4", "avx2", "default")))
#else
#define MULTIVERSION
#endif
#if defined(__GNUC__)
#define INLINE static inline __attribute__((always_inline))
#else
#define INLINE static inline
#endif

#define MAX_RADIUS 64

typedef struct {
    Py_ssize_t lo, hi;  /* rows [lo, hi) */
} range_t;

typedef struct {
    int luma_radius, color_radius;
    double luma_eps, color_eps, color_keep;
} params_t;

/* The rows a box of radius r over the rows of R reads (reflected indices stay inside). */
static range_t grow(range_t R, int r, Py_ssize_t h)
{
    range_t g = {R.lo - r < 0 ? 0 : R.lo - r, R.hi + r > h ? h : R.hi + r};
    return g;
}

/*
 * One output row of a box mean of radius R: xs[k] (times ys[k] where ys is
 * given, the product rounded to T) are the 2R + 1 input rows of the window,
 * reflected ones included: the 2R + 1 terms down the window summed in order
 * in ACC and rounded to T, then the same along the row (edges reflected).
 *
 * boxrow_T sums in double, as scipy's uniform_filter does: for the moments
 * whose difference makes a variance or a covariance (q - m*m), which cancel
 * in float32 sums (a flat 0.99 block came out 9e-3 off, tests/test_gfilter.py).
 * boxrowf_T sums in T, 1.16x faster end to end at 12 MP in float32: for the
 * box means used as they are (stage 1's a and b, both in [0, 1]; stage 2's a
 * and b, whose means make the fit U * guide + V; the rest's square), where a
 * float32 sum loses a few ulp of the result (1e-7 at 1; a few 1e-6 of a fit
 * where a is about 10) and no more.
 */
#define BOXROW_BODY(T, ACC, R)                                                   \
    do {                                                                         \
        const ACC inv = (ACC)(1.0 / (double)(2 * (R) + 1));                      \
        for (Py_ssize_t j = 0; j < w; j++) {                                     \
            ACC s = 0;                                                           \
            for (int k = 0; k <= 2 * (R); k++) {                                 \
                T term = ys == NULL ? xs[k][j] : xs[k][j] * ys[k][j];            \
                s += (ACC)term;                                                  \
            }                                                                    \
            pad[(R) + j] = (ACC)(T)(s * inv);                                    \
        }                                                                        \
        for (int k = 1; k <= (R); k++) {                                         \
            pad[(R) - k] = pad[(R) + skdce_reflect(-k, w)];                      \
            pad[(R) + w - 1 + k] = pad[(R) + skdce_reflect(w - 1 + k, w)];       \
        }                                                                        \
        for (Py_ssize_t j = 0; j < w; j++) {                                     \
            ACC s = 0;                                                           \
            for (int k = 0; k <= 2 * (R); k++)                                   \
                s += pad[j + k];                                                 \
            o[j] = (T)(s * inv);                                                 \
        }                                                                        \
    } while (0)

/* NAME_T(xs, ys, o, w, pad, r): BOXROW_BODY summing in ACC, specialised for r = 2 and 3 (the loops unroll). */
#define DEFINE_BOXROW(NAME, T, ACC)                                              \
    INLINE void NAME##2_##T(const T *const *xs, const T *const *ys, T *o, Py_ssize_t w, ACC *restrict pad) \
    {                                                                            \
        BOXROW_BODY(T, ACC, 2);                                                  \
    }                                                                            \
    INLINE void NAME##3_##T(const T *const *xs, const T *const *ys, T *o, Py_ssize_t w, ACC *restrict pad) \
    {                                                                            \
        BOXROW_BODY(T, ACC, 3);                                                  \
    }                                                                            \
    INLINE void NAME##r_##T(const T *const *xs, const T *const *ys, T *o, Py_ssize_t w, ACC *restrict pad, \
                            int r)                                               \
    {                                                                            \
        BOXROW_BODY(T, ACC, r);                                                  \
    }                                                                            \
    INLINE void NAME##_##T(const T *const *xs, const T *const *ys, T *o, Py_ssize_t w, ACC *restrict pad, \
                           int r)                                                \
    {                                                                            \
        if (r == 2)                                                              \
            NAME##2_##T(xs, ys, o, w, pad);                                      \
        else if (r == 3)                                                         \
            NAME##3_##T(xs, ys, o, w, pad);                                      \
        else                                                                     \
            NAME##r_##T(xs, ys, o, w, pad, r);                                   \
    }
DEFINE_BOXROW(boxrow, float, double)
DEFINE_BOXROW(boxrow, double, double)
DEFINE_BOXROW(boxrowf, float, float)
DEFINE_BOXROW(boxrowf, double, double)

/* Row i of a plane kept as a ring of k rows (row i in slot i mod k). */
#define RING(buf, k, i) ((buf) + ((i) % (k)) * w)

/* The 2r + 1 rows of a box window around row i of a ring plane, reflected at the block's edges. */
#define WINDOW(dst, buf, k, i, r)                                                \
    for (int kk = 0; kk <= 2 * (r); kk++)                                        \
        (dst)[kk] = RING(buf, k, skdce_reflect((i) + kk - (r), h))

/*
 * Output rows r0:r1 of denoise_block(y, noise), streamed: the rows are
 * visited once, top to bottom, and every intermediate plane is kept only as
 * a ring of the rows its box filter still needs (2r + 1 rows: a few hundred
 * KiB, in the core's cache, where whole planes of a large block were not).
 * At step t the luminance row t is made, stage 1's coefficients row t - lr,
 * the guide row t - 2 lr, stage 2's coefficients row t - 2 lr - cr, the fit
 * row t - 2 lr - 2 cr and the output row t - 2 lr - 3 cr: each row is made
 * once its inputs' last needed row exists. Each row is computed by the same
 * operations in the same order as the whole-plane version, so results do not
 * depend on which rows were asked for. Returns -1 without scratch memory.
 */
#define DEFINE_DENOISE(T)                                                        \
    MULTIVERSION                                                                 \
    static int denoise_##T(const T *y, const T *noise, T *out, Py_ssize_t h, Py_ssize_t w, Py_ssize_t c, \
                           Py_ssize_t r0, Py_ssize_t r1, const params_t *prm)    \
    {                                                                            \
        const int lr = prm->luma_radius, cr = prm->color_radius;                 \
        const T luma_eps = (T)prm->luma_eps, color_eps = (T)prm->color_eps;      \
        const T color_keep = (T)prm->color_keep, tiny = (T)1e-12;                \
        const range_t R5 = {r0, r1};                   /* output */              \
        const range_t R4 = grow(R5, cr, h);            /* fit, rest */           \
        const range_t R3 = grow(R4, cr, h);            /* colour fit a, b */     \
        const range_t RG = grow(R3, cr, h);            /* guide, channel */      \
        const range_t R1 = grow(RG, lr, h);            /* luminance a, b */      \
        const range_t R0 = grow(R1, lr, h);            /* luminance */           \
        const Py_ssize_t lag1 = lr, lagg = 2 * lr, lag3 = lagg + cr, lag4 = lag3 + cr, lag5 = lag4 + cr; \
        const Py_ssize_t kl = 2 * lr + 1, kc = 2 * cr + 1, kf = cr + 1;        \
        const Py_ssize_t n_rows = 3 * kl + kc + c * (4 * kc + kf) + 11;          \
        const int rmax = lr > cr ? lr : cr;                                      \
        T *mem = PyMem_RawMalloc(sizeof(T) * (size_t)(n_rows * w));             \
        double *pad = PyMem_RawMalloc(sizeof(double) * (size_t)(w + 2 * rmax + 1)); \
        T **chan = PyMem_RawMalloc(sizeof(T *) * (size_t)(5 * c));              \
        if (mem == NULL || pad == NULL || chan == NULL) {                        \
            PyMem_RawFree(mem);                                                  \
            PyMem_RawFree(pad);                                                  \
            PyMem_RawFree(chan);                                                 \
            return -1;                                                           \
        }                                                                        \
        T *padt = (T *)pad; /* the same scratch row, for the box means summed in T */ \
        /* rings: luminance, stage 1's a and b, the guide; per channel: the */   \
        /* channel, stage 2's a and b, the rest (2 cr + 1 rows), the fit (cr + 1) */ \
        T *next = mem;                                                           \
        T *Lr = next; next += kl * w;                                            \
        T *A1 = next; next += kl * w;                                            \
        T *B1 = next; next += kl * w;                                            \
        T *Gr = next; next += kc * w;                                            \
        T **P = chan, **A2 = chan + c, **B2 = chan + 2 * c, **S = chan + 3 * c, **F = chan + 4 * c; \
        for (Py_ssize_t ch = 0; ch < c; ch++) {                                  \
            P[ch] = next; next += kc * w;                                        \
            A2[ch] = next; next += kc * w;                                       \
            B2[ch] = next; next += kc * w;                                       \
            S[ch] = next; next += kc * w;                                        \
            F[ch] = next; next += kf * w;                                        \
        }                                                                        \
        /* single rows: box means of the current step */                         \
        T *M = next, *Q = M + w, *X = Q + w, *Z = X + w, *MG = Z + w, *VG = MG + w; \
        T *MP = VG + w, *GP = MP + w, *U = GP + w, *V = U + w, *W = V + w;     \
        const T *xs[2 * MAX_RADIUS + 1], *zs[2 * MAX_RADIUS + 1];                 \
        const Py_ssize_t t_end = R5.hi + lag5;                                   \
        for (Py_ssize_t t = R0.lo; t < t_end; t++) {                             \
            Py_ssize_t i = t;                                                    \
            if (i >= R0.lo && i < R0.hi) { /* luma = y.mean(axis=-1) */          \
                const T *yr = y + i * w * c;                                     \
                T *l = RING(Lr, kl, i);                                          \
                if (c == 3) /* RGB: a constant stride the compiler vectorises */ \
                    for (Py_ssize_t j = 0; j < w; j++) {                         \
                        T s = yr[3 * j];                                         \
                        s += yr[3 * j + 1];                                      \
                        s += yr[3 * j + 2];                                      \
                        l[j] = s / (T)3;                                         \
                    }                                                            \
                else                                                             \
                    for (Py_ssize_t j = 0; j < w; j++) {                         \
                        T s = yr[j * c];                                         \
                        for (Py_ssize_t ch = 1; ch < c; ch++)                    \
                            s += yr[j * c + ch];                                 \
                        l[j] = s / (T)c;                                         \
                    }                                                            \
            }                                                                    \
            i = t - lag1;                                                        \
            if (i >= R1.lo && i < R1.hi) { /* stage 1: self-guided luminance */  \
                WINDOW(xs, Lr, kl, i, lr);                                       \
                boxrow_##T(xs, NULL, M, w, pad, lr);                             \
                boxrow_##T(xs, xs, Q, w, pad, lr);                               \
                const T *nr = noise + i * w;                                     \
                T *a1 = RING(A1, kl, i), *b1 = RING(B1, kl, i);                  \
                for (Py_ssize_t j = 0; j < w; j++) {                             \
                    T vn = nr[j] * nr[j];                                        \
                    T m = M[j], v = Q[j] - m * m;                                \
                    T a = v / (v + luma_eps * vn + tiny);                        \
                    a1[j] = a;                                                   \
                    b1[j] = m - a * m;                                           \
                }                                                                \
            }                                                                    \
            i = t - lagg;                                                        \
            if (i >= RG.lo && i < RG.hi) { /* the guide */                       \
                WINDOW(xs, A1, kl, i, lr);                                       \
                boxrowf_##T(xs, NULL, X, w, padt, lr);                           \
                WINDOW(xs, B1, kl, i, lr);                                       \
                boxrowf_##T(xs, NULL, Z, w, padt, lr);                           \
                const T *l = RING(Lr, kl, i);                                    \
                T *g = RING(Gr, kc, i);                                          \
                for (Py_ssize_t j = 0; j < w; j++)                               \
                    g[j] = X[j] * l[j] + Z[j];                                   \
                const T *yr = y + i * w * c;                                     \
                if (c == 3) {                                                    \
                    T *p0 = RING(P[0], kc, i), *p1 = RING(P[1], kc, i), *p2 = RING(P[2], kc, i); \
                    for (Py_ssize_t j = 0; j < w; j++) {                         \
                        p0[j] = yr[3 * j];                                       \
                        p1[j] = yr[3 * j + 1];                                   \
                        p2[j] = yr[3 * j + 2];                                   \
                    }                                                            \
                } else                                                           \
                    for (Py_ssize_t ch = 0; ch < c; ch++) {                      \
                        T *p = RING(P[ch], kc, i);                               \
                        for (Py_ssize_t j = 0; j < w; j++)                       \
                            p[j] = yr[j * c + ch];                               \
                    }                                                            \
            }                                                                    \
            i = t - lag3;                                                        \
            if (i >= R3.lo && i < R3.hi) { /* stage 2: each channel against the guide */ \
                WINDOW(xs, Gr, kc, i, cr);                                       \
                boxrow_##T(xs, NULL, MG, w, pad, cr);                            \
                boxrow_##T(xs, xs, VG, w, pad, cr);                              \
                const T *nr = noise + i * w;                                     \
                for (Py_ssize_t j = 0; j < w; j++) {                             \
                    T vn = nr[j] * nr[j];                                        \
                    T mg = MG[j];                                                \
                    VG[j] = VG[j] - mg * mg + color_eps * vn + tiny;             \
                }                                                                \
                for (Py_ssize_t ch = 0; ch < c; ch++) {                          \
                    WINDOW(zs, P[ch], kc, i, cr);                                \
                    boxrow_##T(zs, NULL, MP, w, pad, cr);                        \
                    boxrow_##T(xs, zs, GP, w, pad, cr);                          \
                    T *a2 = RING(A2[ch], kc, i), *b2 = RING(B2[ch], kc, i);      \
                    for (Py_ssize_t j = 0; j < w; j++) {                         \
                        T mp = MP[j];                                            \
                        T a = (GP[j] - MG[j] * mp) / VG[j];                      \
                        a2[j] = a;                                               \
                        b2[j] = mp - a * MG[j];                                  \
                    }                                                            \
                }                                                                \
            }                                                                    \
            i = t - lag4;                                                        \
            if (i >= R4.lo && i < R4.hi) { /* the fit, and what it leaves out */ \
                const T *g = RING(Gr, kc, i);                                    \
                for (Py_ssize_t ch = 0; ch < c; ch++) {                          \
                    WINDOW(xs, A2[ch], kc, i, cr);                               \
                    boxrowf_##T(xs, NULL, U, w, padt, cr);                       \
                    WINDOW(xs, B2[ch], kc, i, cr);                               \
                    boxrowf_##T(xs, NULL, V, w, padt, cr);                       \
                    const T *p = RING(P[ch], kc, i);                             \
                    T *f = RING(F[ch], kf, i), *s = RING(S[ch], kc, i);          \
                    for (Py_ssize_t j = 0; j < w; j++) {                         \
                        T fit = U[j] * g[j] + V[j];                              \
                        f[j] = fit;                                              \
                        s[j] = p[j] - fit;                                       \
                    }                                                            \
                }                                                                \
            }                                                                    \
            i = t - lag5;                                                        \
            if (i >= R5.lo && i < R5.hi) { /* detail kept where it stands above the noise */ \
                const T *nr = noise + i * w;                                     \
                T *o = out + i * w * c;                                          \
                T *rgb[3] = {MP, GP, U}; /* free in this step: RGB rows, interleaved at the end */ \
                for (Py_ssize_t ch = 0; ch < c; ch++) {                          \
                    WINDOW(xs, S[ch], kc, i, cr);                                \
                    boxrowf_##T(xs, xs, W, w, padt, cr);                         \
                    const T *f = RING(F[ch], kf, i), *s = RING(S[ch], kc, i);    \
                    T *dst = c == 3 ? rgb[ch] : o + ch;                          \
                    const Py_ssize_t step = c == 3 ? 1 : c;                      \
                    for (Py_ssize_t j = 0; j < w; j++) {                         \
                        T vn = nr[j] * nr[j];                                    \
                        T power = W[j], rest = s[j];                             \
                        T v = f[j] + rest * (power / (power + color_keep * vn + tiny)); \
                        dst[j * step] = v < (T)0 ? (T)0 : (v > (T)1 ? (T)1 : v); \
                    }                                                            \
                }                                                                \
                for (Py_ssize_t j = 0; j < w && c == 3; j++) {                   \
                    o[3 * j] = MP[j];                                            \
                    o[3 * j + 1] = GP[j];                                        \
                    o[3 * j + 2] = U[j];                                         \
                }                                                                \
            }                                                                    \
        }                                                                        \
        PyMem_RawFree(mem);                                                      \
        PyMem_RawFree(pad);                                                      \
        PyMem_RawFree(chan);                                                     \
        return 0;                                                                \
    }
DEFINE_DENOISE(float)
DEFINE_DENOISE(double)

/*
 * Rows r0:r1 of the noise the curves add (stages/gain.py added_noise): with level the
 * channel mean of the input x (h, w, c) times `scale` and am the channel mean
 * of the alphas a (h, w, k, c), k = 1 (one curve for all iterations) or
 * n_iter, the slope g of the curves at level (gain.gain_block) and
 * out = amount * sqrt(max(g * g - 1, 0)), every step in T.
 */
#define LEVEL_ROW(X, T)                                                          \
    if (c == 3 && xs[2] == sizeof(X) && xs[1] == 3 * sizeof(X)) {                \
        const X *p = (const X *)xr;                                              \
        for (Py_ssize_t j = 0; j < w; j++) {                                     \
            T s = (T)p[3 * j];                                                   \
            s += (T)p[3 * j + 1];                                                \
            s += (T)p[3 * j + 2];                                                \
            lv[j] = s / (T)3 * scale;                                            \
        }                                                                        \
    } else                                                                       \
    for (Py_ssize_t j = 0; j < w; j++) {                                         \
        const char *px = xr + j * xs[1];                                         \
        T s = (T)*(const X *)px;                                                 \
        for (Py_ssize_t ch = 1; ch < c; ch++)                                    \
            s += (T)*(const X *)(px + ch * xs[2]);                               \
        lv[j] = s / (T)c * scale;                                                \
    }

#define DEFINE_NOISE(T)                                                          \
    MULTIVERSION                                                                 \
    static void noise_##T(const char *x, int xt, const Py_ssize_t *xs, const char *a, const Py_ssize_t *as, \
                          Py_ssize_t k, T *out, Py_ssize_t w, Py_ssize_t c, Py_ssize_t r0, Py_ssize_t r1, \
                          int n_iter, T scale, T amount, T *buf)                 \
    {                                                                            \
        T *lv = buf, *am = buf + w;                                              \
        for (Py_ssize_t i = r0; i < r1; i++) {                                   \
            const char *xr = x + i * xs[0];                                      \
            switch (xt) {                                                        \
            case SKDCE_U8: LEVEL_ROW(uint8_t, T) break;                          \
            case SKDCE_U16: LEVEL_ROW(uint16_t, T) break;                        \
            case SKDCE_F32: LEVEL_ROW(float, T) break;                           \
            default: LEVEL_ROW(double, T) break;                                 \
            }                                                                    \
            if (k == 1 && c == 3 && as[3] == sizeof(float) && as[1] == 3 * sizeof(float)) { \
                /* one shared RGB map, pixels contiguous (Zero-DCE++): vectorised */ \
                const float *pa = (const float *)(a + i * as[0]);                \
                for (Py_ssize_t j = 0; j < w; j++) {                             \
                    T s = (T)pa[3 * j];                                          \
                    s += (T)pa[3 * j + 1];                                       \
                    s += (T)pa[3 * j + 2];                                       \
                    am[j] = s / (T)3;                                            \
                }                                                                \
            } else                                                               \
                for (Py_ssize_t kk = 0; kk < k; kk++)                            \
                    for (Py_ssize_t j = 0; j < w; j++) {                         \
                        const char *pa = a + i * as[0] + j * as[1] + kk * as[2]; \
                        T s = (T)*(const float *)pa;                             \
                        for (Py_ssize_t ch = 1; ch < c; ch++)                    \
                            s += (T)*(const float *)(pa + ch * as[3]);           \
                        am[kk * w + j] = s / (T)c;                               \
                    }                                                            \
            T *g = am + k * w, *o = out + i * w;                                 \
            for (Py_ssize_t j = 0; j < w; j++)                                   \
                g[j] = (T)1;                                                     \
            for (int it = 0; it < n_iter; it++) { /* row by row: plain vector loops */ \
                const T *al = am + (k > 1 ? it : 0) * w;                         \
                for (Py_ssize_t j = 0; j < w; j++) {                             \
                    const T v = lv[j];                                           \
                    T step = v * (T)-2;                                          \
                    step += (T)1;                                                \
                    step *= al[j];                                               \
                    step += (T)1; /* 1 + a (1 - 2x) */                           \
                    g[j] *= step;                                                \
                    step = v * v;                                                \
                    step = v - step;                                             \
                    step *= al[j];                                               \
                    lv[j] = v + step; /* x + a x (1 - x) */                      \
                }                                                                \
            }                                                                    \
            for (Py_ssize_t j = 0; j < w; j++) {                                 \
                T gg = g[j] * g[j];                                              \
                gg -= (T)1;                                                      \
                gg = gg < (T)0 ? (T)0 : gg;                                      \
                o[j] = (T)sqrt(gg) * amount;                                     \
            }                                                                    \
        }                                                                        \
    }
DEFINE_NOISE(float)
DEFINE_NOISE(double)

/* --- argument checks --------------------------------------------------------------------- */

/* The buffer of obj, ndim dimensions, its elements aligned; ValueError naming it otherwise. */
static int get_buffer(PyObject *obj, Py_buffer *view, int flags, const char *name, int ndim)
{
    const int got = skdce_get_buffer(obj, view, flags);
    if (got == SKDCE_BUF_REFUSED || got == SKDCE_BUF_READONLY)
        PyErr_Format(PyExc_ValueError, "%s must be an aligned%s%s array", name,
                     flags & PyBUF_WRITABLE ? ", writable" : "",
                     (flags & PyBUF_C_CONTIGUOUS) == PyBUF_C_CONTIGUOUS ? ", C-contiguous" : "");
    if (got != SKDCE_BUF_OK)
        return -1;
    if (view->ndim != ndim) {
        PyErr_Format(PyExc_ValueError, "%s must have %d dimensions, not %d", name, ndim, view->ndim);
        PyBuffer_Release(view);
        return -1;
    }
    if (!skdce_buffer_aligned(view) || !skdce_buffer_whole_strides(view)) {
        PyErr_Format(PyExc_ValueError, "%s must be aligned", name);
        PyBuffer_Release(view);
        return -1;
    }
    return 0;
}

PyDoc_STRVAR(denoise_doc,
"denoise(y, noise, out, r0, r1, luma_radius, color_radius, luma_eps, color_eps, color_keep)\n\n"
"Rows r0:r1 of skdce.engine.stages.guided.denoise_block(y, noise), written to the same rows\n"
"of out. y: (h, w, c) and out: C-contiguous arrays of one dtype (float32 or\n"
"float64), out writable and apart from the inputs; noise: (h, w) of that dtype.\n"
"The other arguments are the filter's constants (skdce.engine.stages.guided). Rows of one\n"
"block computed by separate calls (on separate threads) join bit for bit.");

static PyObject *denoise(PyObject *self, PyObject *args)
{
    PyObject *yo, *no, *oo;
    Py_ssize_t r0, r1;
    params_t prm;
    if (!PyArg_ParseTuple(args, "OOOnniiddd", &yo, &no, &oo, &r0, &r1, &prm.luma_radius, &prm.color_radius,
                          &prm.luma_eps, &prm.color_eps, &prm.color_keep))
        return NULL;
    if (prm.luma_radius < 0 || prm.luma_radius > MAX_RADIUS || prm.color_radius < 0 || prm.color_radius > MAX_RADIUS) {
        PyErr_Format(PyExc_ValueError, "denoise: radii must lie in [0, %d]", MAX_RADIUS);
        return NULL;
    }
    Py_buffer y, n, o;
    if (get_buffer(yo, &y, PyBUF_C_CONTIGUOUS, "y", 3) < 0)
        return NULL;
    if (get_buffer(no, &n, PyBUF_C_CONTIGUOUS, "noise", 2) < 0) {
        PyBuffer_Release(&y);
        return NULL;
    }
    if (get_buffer(oo, &o, PyBUF_C_CONTIGUOUS | PyBUF_WRITABLE, "out", 3) < 0) {
        PyBuffer_Release(&y);
        PyBuffer_Release(&n);
        return NULL;
    }
    const int t = skdce_buffer_type(&y);
    const Py_ssize_t h = y.shape[0], w = y.shape[1], c = y.shape[2];
    const char *err = NULL;
    if (t != SKDCE_F32 && t != SKDCE_F64)
        err = "denoise: y must be float32 or float64";
    else if (skdce_buffer_type(&n) != t || skdce_buffer_type(&o) != t)
        err = "denoise: noise and out must have y's dtype";
    else if (n.shape[0] != h || n.shape[1] != w || o.shape[0] != h || o.shape[1] != w || o.shape[2] != c)
        err = "denoise: noise must have shape (h, w) and out y's shape (h, w, c)";
    else if (h < 1 || w < 1 || c < 1)
        err = "denoise: y is empty";
    else if (r0 < 0 || r1 > h || r0 >= r1)
        err = "denoise: rows r0:r1 must be a non-empty range inside y";
    else if (skdce_buffers_overlap(&o, &y) || skdce_buffers_overlap(&o, &n))
        err = "denoise: out must not share memory with y or noise";
    int failed = 0;
    if (err == NULL) {
        Py_BEGIN_ALLOW_THREADS
        if (t == SKDCE_F32)
            failed = denoise_float(y.buf, n.buf, o.buf, h, w, c, r0, r1, &prm);
        else
            failed = denoise_double(y.buf, n.buf, o.buf, h, w, c, r0, r1, &prm);
        Py_END_ALLOW_THREADS
    }
    PyBuffer_Release(&y);
    PyBuffer_Release(&n);
    PyBuffer_Release(&o);
    if (err != NULL) {
        PyErr_SetString(PyExc_ValueError, err);
        return NULL;
    }
    if (failed)
        return PyErr_NoMemory();
    Py_RETURN_NONE;
}

PyDoc_STRVAR(noise_map_doc,
"noise_map(x, a, out, r0, r1, n_iter, scale, amount)\n\n"
"Rows r0:r1 of the noise the curves add, amount * sqrt(max(g**2 - 1, 0)), g the\n"
"slope of n_iter curve steps (skdce.engine.stages.gain.gain_block) at the channel mean of\n"
"x times scale, with the channel mean of the alphas a. x: (h, w, c) uint8,\n"
"uint16, float32 or float64 (any strides); a: (h, w, k, c) float32, k = 1 or\n"
"n_iter (any strides); out: (h, w) C-contiguous float32 or float64, writable.");

static PyObject *noise_map(PyObject *self, PyObject *args)
{
    PyObject *xo, *ao, *oo;
    Py_ssize_t r0, r1;
    int n_iter;
    double scale, amount;
    if (!PyArg_ParseTuple(args, "OOOnnidd", &xo, &ao, &oo, &r0, &r1, &n_iter, &scale, &amount))
        return NULL;
    Py_buffer x, a, o;
    if (get_buffer(xo, &x, PyBUF_STRIDES, "x", 3) < 0)
        return NULL;
    if (get_buffer(ao, &a, PyBUF_STRIDES, "a", 4) < 0) {
        PyBuffer_Release(&x);
        return NULL;
    }
    if (get_buffer(oo, &o, PyBUF_C_CONTIGUOUS | PyBUF_WRITABLE, "out", 2) < 0) {
        PyBuffer_Release(&x);
        PyBuffer_Release(&a);
        return NULL;
    }
    const int xt = skdce_buffer_type(&x), t = skdce_buffer_type(&o);
    const Py_ssize_t h = x.shape[0], w = x.shape[1], c = x.shape[2], k = a.shape[2];
    const char *err = NULL;
    if (xt != SKDCE_U8 && xt != SKDCE_U16 && xt != SKDCE_F32 && xt != SKDCE_F64)
        err = "noise_map: x must be uint8, uint16, float32 or float64";
    else if (skdce_buffer_type(&a) != SKDCE_F32)
        err = "noise_map: a must be float32";
    else if (t != SKDCE_F32 && t != SKDCE_F64)
        err = "noise_map: out must be float32 or float64";
    else if (a.shape[0] != h || a.shape[1] != w || a.shape[3] != c || (k != 1 && k != n_iter) || o.shape[0] != h
             || o.shape[1] != w)
        err = "noise_map: a must have shape (h, w, 1 or n_iter, c) and out (h, w), x being (h, w, c)";
    else if (h < 1 || w < 1 || c < 1 || n_iter < 0)
        err = "noise_map: empty x or negative n_iter";
    else if (r0 < 0 || r1 > h || r0 >= r1)
        err = "noise_map: rows r0:r1 must be a non-empty range inside x";
    else if (skdce_buffers_overlap(&o, &x) || skdce_buffers_overlap(&o, &a))
        err = "noise_map: out must not share memory with x or a";
    void *buf = NULL;
    if (err == NULL) {
        buf = PyMem_RawMalloc((size_t)o.itemsize * (size_t)(w * (k + 2)));
        if (buf != NULL) {
            Py_BEGIN_ALLOW_THREADS
            if (t == SKDCE_F32)
                noise_float(x.buf, xt, x.strides, a.buf, a.strides, k, o.buf, w, c, r0, r1, n_iter, (float)scale,
                            (float)amount, buf);
            else
                noise_double(x.buf, xt, x.strides, a.buf, a.strides, k, o.buf, w, c, r0, r1, n_iter, scale, amount,
                             buf);
            Py_END_ALLOW_THREADS
            PyMem_RawFree(buf);
        }
    }
    PyBuffer_Release(&x);
    PyBuffer_Release(&a);
    PyBuffer_Release(&o);
    if (err != NULL) {
        PyErr_SetString(PyExc_ValueError, err);
        return NULL;
    }
    if (buf == NULL)
        return PyErr_NoMemory();
    Py_RETURN_NONE;
}

static PyMethodDef methods[] = {
    {"denoise", denoise, METH_VARARGS, denoise_doc},
    {"noise_map", noise_map, METH_VARARGS, noise_map_doc},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_gfilter", "Compiled guided filter of skdce (internal).", -1, methods,
};

PyMODINIT_FUNC PyInit__gfilter(void)
{
    return PyModule_Create(&module);
}
