/*
 * skdce.native._kernels: the light-enhancement curve LE(x) = x + a x (1 - x), applied
 * n times to a strided block of an image in one pass over memory, and the box
 * downscaling of Zero-DCE++.
 *
 * Python (skdce/engine/stages/curve.py, .../boxes.py) hands over NumPy views, read
 * here through the buffer protocol: every entry point checks each buffer's
 * format, dimensions, shape agreement, alignment and (for outputs) that it is
 * writable and does not overlap an input it is not identical to (the checks
 * themselves are shared with skdce.native._gfilter in _buffer.h), and derives
 * every loop bound from the buffers' own shapes, so no call can read or write
 * outside the memory the buffers describe; a bad argument raises TypeError or
 * ValueError. Blocks of one image run on several threads: the buffers are held
 * and the GIL released while a block is computed. Without this module (no C
 * compiler at install time) skdce runs the same curves with NumPy ufuncs,
 * slower.
 *
 * Precision: one curve shared by all iterations with float32 output runs in
 * float32 on s = x or 1 - x (by the sign of alpha), where float32 keeps its
 * relative precision (within 2.4e-7 of the exact formula); everything else is
 * carried in double, where eight steep, differently signed curve steps stay
 * within one rounding of the exact formula. Work goes in chunks of CHUNK
 * elements gathered into local arrays, so every curve step is a plain loop over
 * contiguous arrays that the compiler vectorises; on x86-64 an AVX2 clone is
 * picked at load time where the CPU has it (same operations, same results: no
 * FMA contraction, -ffp-contract=off).
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <math.h>
#include <stdint.h>
#if defined(__SSE2__)
#include <xmmintrin.h>
#endif

#include "_buffer.h"

#define CHUNK 256

enum { BAD_IMAGE = 1, BAD_ALPHA = 2 };

#if defined(__GNUC__) && defined(__x86_64__) && !defined(__clang__)
#define MULTIVERSION __attribute__((target_clones("avx2", "default")))
#else
#define MULTIVERSION
#endif
#if defined(__GNUC__)
#define INLINE static inline __attribute__((always_inline))
#else
#define INLINE static inline
#endif

typedef struct {
    char *x, *y, *a;                      /* first element of each view */
    int x_type, y_type;                   /* y and a share y_type (SKDCE_F32 or SKDCE_F64) */
    Py_ssize_t rows, cols, n_color, n_iter;
    Py_ssize_t x_row, x_pix, x_ch;        /* strides in elements */
    Py_ssize_t y_row, y_pix, y_ch;
    Py_ssize_t a_row, a_pix, a_ch, a_iter;
    double scale;                         /* 1/max for integer input, else 1 */
    int check_image, check_alpha;
    /* Row interpolation (Zero-DCE++ maps upsampled on the fly), or NULLs: the
     * alphas of row r are a[src[r]] + w[r] * diff[src[r]] (float32 rows; the
     * pixels of a diff row packed, rows diff_row elements apart). */
    const char *diff;
    Py_ssize_t diff_row;
    const int64_t *src_row;
    const float *row_weight;
} job_t;

/* dst[j] = the (p, c) element for j = p * nc + c: a contiguous loop when the pixels are packed. */
#define GATHER_LOOP(T)                                                           \
    do {                                                                         \
        const T *src = (const T *)base;                                          \
        if (ch == 1 && pix == nc) {                                              \
            for (Py_ssize_t j = 0; j < np * nc; j++)                             \
                dst[j] = src[j];                                                 \
        } else {                                                                 \
            Py_ssize_t j = 0;                                                    \
            for (Py_ssize_t p = 0; p < np; p++)                                  \
                for (Py_ssize_t c = 0; c < nc; c++)                              \
                    dst[j++] = src[p * pix + c * ch];                            \
        }                                                                        \
    } while (0)

/* the image, as doubles */
INLINE void gather_image(double *restrict dst, const char *base, int type, Py_ssize_t np, Py_ssize_t nc,
                         Py_ssize_t pix, Py_ssize_t ch)
{
    switch (type) {
    case SKDCE_U8: GATHER_LOOP(uint8_t); break;
    case SKDCE_U16: GATHER_LOOP(uint16_t); break;
    case SKDCE_F32: GATHER_LOOP(float); break;
    default: GATHER_LOOP(double); break;
    }
}

/* alphas in their own dtype (SKDCE_F32 or SKDCE_F64) */
#define GATHER_ALPHA(T)                                                          \
    INLINE void gather_alpha_##T(T *restrict dst, const char *base, Py_ssize_t np, Py_ssize_t nc, \
                                 Py_ssize_t pix, Py_ssize_t ch)                  \
    {                                                                            \
        GATHER_LOOP(T);                                                          \
    }
GATHER_ALPHA(float)
GATHER_ALPHA(double)

/* The inverse of gather, for the output. */
#define SCATTER(T, S)                                                            \
    INLINE void scatter_##T##_##S(char *restrict base, const S *restrict src, Py_ssize_t np, \
                                  Py_ssize_t nc, Py_ssize_t pix, Py_ssize_t ch)  \
    {                                                                            \
        T *out = (T *)base;                                                      \
        if (ch == 1 && pix == nc) {                                              \
            for (Py_ssize_t j = 0; j < np * nc; j++)                             \
                out[j] = (T)src[j];                                              \
        } else {                                                                 \
            Py_ssize_t j = 0;                                                    \
            for (Py_ssize_t p = 0; p < np; p++)                                  \
                for (Py_ssize_t c = 0; c < nc; c++)                              \
                    out[p * pix + c * ch] = (T)src[j++];                         \
        }                                                                        \
    }
SCATTER(float, float)
SCATTER(float, double)
SCATTER(double, double)

#define CHECK_RANGE(arr, n, lo, hi, flag, bad)                                   \
    do {                                                                         \
        int ok_ = 1; /* comparisons with NaN are false: NaN is caught too */     \
        for (Py_ssize_t j = 0; j < (n); j++)                                     \
            ok_ &= ((arr)[j] >= (lo)) & ((arr)[j] <= (hi));                      \
        (bad) |= ok_ ? 0 : (flag);                                               \
    } while (0)

/* One curve shared by every iteration, float32 output: computed in float32.
 * With s = x where a >= 0 and s = 1 - x where a < 0, and c = |a|, the curve is
 * s <- s + c s (1 - s) in both cases, an expansion away from 0 where float32
 * keeps its relative precision (carrying x itself would lose up to 1e-5 near
 * x = 1 for a = -1); s is formed in double, so integer input is rounded once.
 * s never decreases and never passes 1, and adding the rounded increment keeps
 * the result monotonic in x. */
INLINE int chunk_shared_f32(const job_t *job, const char *xr, const char *ar, const char *dr, float w,
                            char *yr, Py_ssize_t np)
{
    double v[CHUNK];
    float al[CHUNK], c[CHUNK], s[CHUNK], m[CHUNK];
    int bad = 0;
    const Py_ssize_t nc = job->n_color, n = np * nc;

    gather_alpha_float(al, ar, np, nc, job->a_pix, job->a_ch);
    if (dr != NULL) {  /* the same two roundings as NumPy's diff * w + base */
        const float *d = (const float *)dr;
        for (Py_ssize_t j = 0; j < n; j++)
            al[j] += d[j] * w;
    }
    if (job->check_alpha)
        CHECK_RANGE(al, n, -1.0f, 1.0f, BAD_ALPHA, bad);
    /* branch-free (random signs would defeat the branch predictor): with m = 1
     * where a < 0, else 0, s = |m - x| is x or 1 - x, rounded once */
    for (Py_ssize_t j = 0; j < n; j++) {
        m[j] = al[j] < 0.0f ? 1.0f : 0.0f;
        c[j] = fabsf(al[j]);
    }
    if (job->x_type == SKDCE_F32) {
        gather_alpha_float(s, xr, np, nc, job->x_pix, job->x_ch);
        if (job->check_image)
            CHECK_RANGE(s, n, 0.0f, 1.0f, BAD_IMAGE, bad);
        for (Py_ssize_t j = 0; j < n; j++)
            s[j] = fabsf(m[j] - s[j]);
    } else {
        gather_image(v, xr, job->x_type, np, nc, job->x_pix, job->x_ch);
        if (job->check_image)
            CHECK_RANGE(v, n, 0.0, 1.0, BAD_IMAGE, bad);
        const double scale = job->scale;
        for (Py_ssize_t j = 0; j < n; j++)
            s[j] = (float)fabs((double)m[j] - v[j] * scale);
    }
    for (Py_ssize_t k = 0; k < job->n_iter; k++)
        for (Py_ssize_t j = 0; j < n; j++) {
            float t = 1.0f - s[j];
            t *= s[j];
            t *= c[j];
            s[j] += t;
        }
    for (Py_ssize_t j = 0; j < n; j++)
        s[j] = fabsf(m[j] - s[j]);
    scatter_float_float(yr, s, np, nc, job->y_pix, job->y_ch);
    return bad;
}

/* Any alphas, any output: carried in double, which keeps eight steep and
 * differently signed curve steps within one rounding of exact arithmetic. */
#define CHUNK_DOUBLE(A)                                                          \
    INLINE int chunk_double_##A(const job_t *job, const char *xr, const char *ar, char *yr, Py_ssize_t np) \
    {                                                                            \
        double v[CHUNK];                                                         \
        A al[CHUNK];                                                             \
        int bad = 0;                                                             \
        const Py_ssize_t nc = job->n_color, n = np * nc;                         \
        gather_image(v, xr, job->x_type, np, nc, job->x_pix, job->x_ch);         \
        if (job->check_image)                                                    \
            CHECK_RANGE(v, n, 0.0, 1.0, BAD_IMAGE, bad);                         \
        if (job->scale != 1.0)                                                   \
            for (Py_ssize_t j = 0; j < n; j++)                                   \
                v[j] *= job->scale;                                              \
        for (Py_ssize_t k = 0; k < job->n_iter; k++) {                           \
            if (k == 0 || job->a_iter != 0) {                                    \
                gather_alpha_##A(al, ar + sizeof(A) * (k * job->a_iter), np, nc, job->a_pix, job->a_ch); \
                if (job->check_alpha)                                            \
                    CHECK_RANGE(al, n, -1.0, 1.0, BAD_ALPHA, bad);               \
            }                                                                    \
            for (Py_ssize_t j = 0; j < n; j++) {                                 \
                double t = 1.0 - v[j];                                           \
                t *= v[j];                                                       \
                t *= (double)al[j];                                              \
                v[j] += t;                                                       \
            }                                                                    \
        }                                                                        \
        for (Py_ssize_t j = 0; j < n; j++) /* LE keeps [0, 1]: drop rounding above 1 */ \
            v[j] = v[j] < 1.0 ? v[j] : 1.0;                                      \
        if (job->y_type == SKDCE_F32)                                                \
            scatter_float_double(yr, v, np, nc, job->y_pix, job->y_ch);          \
        else                                                                     \
            scatter_double_double(yr, v, np, nc, job->y_pix, job->y_ch);         \
        return bad;                                                              \
    }
CHUNK_DOUBLE(float)
CHUNK_DOUBLE(double)

/* Per-iteration float32 maps laid out planar (pixels contiguous within each
 * map, as DCE-Net's NCHW output arrives): one colour plane at a time, so every
 * curve step is a contiguous loop over pixels, carried in double. */
INLINE int chunk_planar_f32(const job_t *job, const char *xr, const char *ar, char *yr, Py_ssize_t np)
{
    double v[CHUNK];
    int bad = 0;
    for (Py_ssize_t c = 0; c < job->n_color; c++) {
        gather_image(v, xr + skdce_type_size[job->x_type] * (c * job->x_ch), job->x_type, np, 1, job->x_pix, 1);
        if (job->check_image)
            CHECK_RANGE(v, np, 0.0, 1.0, BAD_IMAGE, bad);
        if (job->scale != 1.0)
            for (Py_ssize_t p = 0; p < np; p++)
                v[p] *= job->scale;
        for (Py_ssize_t k = 0; k < job->n_iter; k++) {
            const float *a = (const float *)ar + (c * job->a_ch + k * job->a_iter);
            if (job->check_alpha)
                CHECK_RANGE(a, np, -1.0f, 1.0f, BAD_ALPHA, bad);
            for (Py_ssize_t p = 0; p < np; p++) {
                double t = 1.0 - v[p];
                t *= v[p];
                t *= (double)a[p];
                v[p] += t;
            }
        }
        for (Py_ssize_t p = 0; p < np; p++)  /* LE keeps [0, 1]: drop rounding above 1 */
            v[p] = v[p] < 1.0 ? v[p] : 1.0;
        scatter_float_double(yr + 4 * (c * job->y_ch), v, np, 1, job->y_pix, 1);
    }
    return bad;
}

/* Apply the curves to the pixels [p0, p0 + np) of row r. */
INLINE int run_chunk(const job_t *job, Py_ssize_t r, Py_ssize_t p0, Py_ssize_t np)
{
    const char *xr = job->x + skdce_type_size[job->x_type] * (r * job->x_row + p0 * job->x_pix);
    char *yr = job->y + skdce_type_size[job->y_type] * (r * job->y_row + p0 * job->y_pix);
    if (job->src_row != NULL) {  /* float32 rows, diff's pixels packed (checked in le_curves) */
        const char *ar = job->a + 4 * (job->src_row[r] * job->a_row + p0 * job->a_pix);
        const char *dr = job->diff + 4 * (job->src_row[r] * job->diff_row + p0 * job->n_color);
        return chunk_shared_f32(job, xr, ar, dr, job->row_weight[r], yr, np);
    }
    const char *ar = job->a + skdce_type_size[job->y_type] * (r * job->a_row + p0 * job->a_pix);
    if (job->y_type == SKDCE_F64)
        return chunk_double_double(job, xr, ar, yr, np);
    if (job->a_iter == 0)
        return chunk_shared_f32(job, xr, ar, NULL, 0.0f, yr, np);
    if (job->a_pix == 1)
        return chunk_planar_f32(job, xr, ar, yr, np);
    return chunk_double_float(job, xr, ar, yr, np);
}

/* Every loop above is inlined here, so the AVX2 clone covers all of them. */
MULTIVERSION
static int run_job(const job_t *job)
{
    int bad = 0;
    const Py_ssize_t step = CHUNK / job->n_color;
    for (Py_ssize_t r = 0; r < job->rows; r++)
        for (Py_ssize_t p = 0; p < job->cols; p += step)
            bad |= run_chunk(job, r, p, job->cols - p < step ? job->cols - p : step);
    return bad;
}

/* ---- Arguments: buffers checked before any element is touched ---- */

/* The buffers one call holds; released together on every way out. */
typedef struct {
    Py_buffer v[6];
    int n;
} views_t;

static void release_views(views_t *views)
{
    for (int i = 0; i < views->n; i++)
        PyBuffer_Release(&views->v[i]);
    views->n = 0;
}

/* Get the buffer of obj: ndim dimensions, one of the types in the bit set
 * `types` (1 << code), aligned, writable if asked. Returns the type code and
 * the buffer as views->v[views->n++], or -1 with an exception set. */
static int get_view(views_t *views, PyObject *obj, const char *fn, const char *name, int ndim, int types, int writable)
{
    Py_buffer *v = &views->v[views->n];
    const int got = skdce_get_buffer(obj, v, PyBUF_STRIDES | (writable ? PyBUF_WRITABLE : 0));
    if (got == SKDCE_BUF_READONLY) {
        PyErr_Format(PyExc_ValueError, "%s: %s is read-only; pass a writable array", fn, name);
        return -1;
    }
    if (got == SKDCE_BUF_REFUSED)
        PyErr_Format(PyExc_TypeError, "%s: %s must be a strided buffer (a NumPy array), got %.100s", fn, name,
                     Py_TYPE(obj)->tp_name);
    if (got != SKDCE_BUF_OK)
        return -1;
    views->n++;
    const int type = skdce_buffer_type(v);
    if (type < 0 || !(types & (1 << type))) {
        PyErr_Format(PyExc_TypeError, "%s: %s has format '%s' (item size %zd), which this argument does not take",
                     fn, name, v->format != NULL ? v->format : "B", v->itemsize);
        return -1;
    }
    if (v->ndim != ndim || (ndim > 0 && (v->shape == NULL || v->strides == NULL))) {
        PyErr_Format(PyExc_ValueError, "%s: %s has %d dimensions, expected %d", fn, name, v->ndim, ndim);
        return -1;
    }
    if (!skdce_buffer_aligned(v)) {
        PyErr_Format(PyExc_ValueError, "%s: %s is not aligned to its %zd-byte items", fn, name, v->itemsize);
        return -1;
    }
    if (!skdce_buffer_whole_strides(v)) {
        PyErr_Format(PyExc_ValueError, "%s: %s has a negative size or a stride that is not a whole number of "
                     "items", fn, name);
        return -1;
    }
    return type;
}

/* Stride of axis d in elements; 0 along an axis of length 1 (it broadcasts). */
static Py_ssize_t stride(const Py_buffer *v, int d)
{
    return v->shape[d] == 1 ? 0 : v->strides[d] / v->itemsize;
}

static int same_view(const Py_buffer *a, int a_type, const Py_buffer *b, int b_type)
{
    if (a->buf != b->buf || a_type != b_type || a->ndim != b->ndim)
        return 0;
    for (int d = 0; d < a->ndim; d++)
        if (a->shape[d] != b->shape[d] || stride(a, d) != stride(b, d))
            return 0;
    return 1;
}

/* An output may be its input exactly (in place), or lie apart from it. */
static int check_apart(const Py_buffer *out, int out_type, const Py_buffer *in, int in_type, const char *fn,
                       const char *out_name, const char *in_name)
{
    if (skdce_buffers_overlap(out, in) && !same_view(out, out_type, in, in_type)) {
        PyErr_Format(PyExc_ValueError, "%s: %s overlaps %s without being the same view of it", fn, out_name, in_name);
        return -1;
    }
    return 0;
}

/* No two elements of an output may share memory (skdce_buffer_self_overlaps). */
static int check_no_self_overlap(const Py_buffer *v, const char *fn, const char *name)
{
    if (skdce_buffer_self_overlaps(v)) {
        PyErr_Format(PyExc_ValueError, "%s: %s has elements that share memory (a broadcast or overlapping view)",
                     fn, name);
        return -1;
    }
    return 0;
}

#define ANY_IMAGE ((1 << SKDCE_U8) | (1 << SKDCE_U16) | (1 << SKDCE_F32) | (1 << SKDCE_F64))
#define ANY_FLOAT ((1 << SKDCE_F32) | (1 << SKDCE_F64))

static int run_le(job_t *job)
{
    int bad;
    Py_BEGIN_ALLOW_THREADS
#if defined(__SSE2__)
    /* Flush subnormals to zero: a = -1 drives dark values through x^256, and
     * subnormal arithmetic is 10-100x slower. They are below 1e-307, far under
     * anything a float32 output holds. This thread's previous mode is restored. */
    unsigned int csr = _mm_getcsr();
    _mm_setcsr(csr | 0x8040);  /* FTZ | DAZ */
#endif
    bad = run_job(job);
#if defined(__SSE2__)
    _mm_setcsr(csr);
#endif
    Py_END_ALLOW_THREADS
    return bad;
}

PyDoc_STRVAR(le_curves_doc,
"le_curves(x, y, a, n_iter, scale, check_image, check_alpha, interp=None) -> flags\n\n"
"Apply LE n_iter times to a (rows, cols, n_color) block x (uint8, uint16,\n"
"float32 or float64), writing y (float32 or float64, the same shape; x itself\n"
"or apart from x and a). a holds the alphas in y's dtype, shaped (rows|1,\n"
"cols|1, 1|n_iter, n_color|1): size-1 axes broadcast, and an iteration axis\n"
"of 1 shares one curve between all iterations. x is multiplied by scale\n"
"(1/max for integer input) first. Returns a bit set: 1 if an image value was\n"
"outside [0, 1] or NaN, 2 if an alpha was outside [-1, 1] or NaN (checked\n"
"only when asked).\n\n"
"interp=(diff, src_row, row_weight): row interpolation for float32 output.\n"
"a and diff are then (h, cols, n_color) float32 (diff's pixels packed), and\n"
"the alphas of block row r are a[src_row[r]] + row_weight[r] * diff[src_row[r]]\n"
"(src_row int64 in [0, h), row_weight float32, both of length rows).\n\n"
"Every buffer is checked (format, shape, alignment, writability, overlap);\n"
"a bad one raises TypeError or ValueError.");

static PyObject *le_curves(PyObject *self, PyObject *args)
{
    static const char *fn = "le_curves";
    PyObject *xo, *yo, *ao, *interp = Py_None;
    Py_ssize_t n_iter;
    double scale;
    int check_image, check_alpha;
    if (!PyArg_ParseTuple(args, "OOOndpp|O", &xo, &yo, &ao, &n_iter, &scale, &check_image, &check_alpha, &interp))
        return NULL;
    job_t job = {0};
    views_t views = {.n = 0};
    int64_t *rows_src = NULL;
    float *rows_weight = NULL;
    PyObject *result = NULL;
    const int interpolate = interp != Py_None;

    const int x_type = get_view(&views, xo, fn, "x", 3, ANY_IMAGE, 0);
    if (x_type < 0)
        goto done;
    const int y_type = get_view(&views, yo, fn, "y", 3, interpolate ? 1 << SKDCE_F32 : ANY_FLOAT, 1);
    if (y_type < 0)
        goto done;
    const int a_type = get_view(&views, ao, fn, "a", interpolate ? 3 : 4, 1 << y_type, 0);
    if (a_type < 0)
        goto done;
    const Py_buffer *x = &views.v[0], *y = &views.v[1], *a = &views.v[2];
    job.rows = x->shape[0], job.cols = x->shape[1], job.n_color = x->shape[2];
    if (y->shape[0] != job.rows || y->shape[1] != job.cols || y->shape[2] != job.n_color) {
        PyErr_Format(PyExc_ValueError, "le_curves: y has shape (%zd, %zd, %zd), x (%zd, %zd, %zd)", y->shape[0],
                     y->shape[1], y->shape[2], job.rows, job.cols, job.n_color);
        goto done;
    }
    if (job.n_color < 1 || job.n_color > CHUNK || n_iter < 0) {
        PyErr_SetString(PyExc_ValueError, "le_curves: x needs 1 to 256 channels and n_iter must be >= 0");
        goto done;
    }
    if (check_no_self_overlap(y, fn, "y") < 0 || check_apart(y, y_type, x, x_type, fn, "y", "x") < 0
        || check_apart(y, y_type, a, a_type, fn, "y", "a") < 0)
        goto done;
    job.x_type = x_type, job.y_type = y_type;
    job.x = x->buf, job.y = y->buf, job.a = a->buf;
    job.x_row = stride(x, 0), job.x_pix = stride(x, 1), job.x_ch = stride(x, 2);
    job.y_row = stride(y, 0), job.y_pix = stride(y, 1), job.y_ch = stride(y, 2);
    job.n_iter = n_iter;
    job.scale = scale;
    job.check_image = check_image, job.check_alpha = check_alpha;
    if (!interpolate) {
        if ((a->shape[0] != 1 && a->shape[0] != job.rows) || (a->shape[1] != 1 && a->shape[1] != job.cols)
            || (a->shape[2] != 1 && a->shape[2] != n_iter) || (a->shape[3] != 1 && a->shape[3] != job.n_color)) {
            PyErr_Format(PyExc_ValueError, "le_curves: a has shape (%zd, %zd, %zd, %zd), which does not broadcast to "
                         "(%zd, %zd, %zd, %zd)", a->shape[0], a->shape[1], a->shape[2], a->shape[3], job.rows,
                         job.cols, n_iter, job.n_color);
            goto done;
        }
        if (skdce_buffer_items(a) == 0 && job.rows * job.cols > 0) {
            PyErr_SetString(PyExc_ValueError, "le_curves: a is empty");
            goto done;
        }
        job.a_row = stride(a, 0), job.a_pix = stride(a, 1), job.a_iter = stride(a, 2), job.a_ch = stride(a, 3);
    } else {
        PyObject *diff_o, *src_o, *weight_o;
        if (!PyArg_ParseTuple(interp, "OOO;le_curves: interp must be (diff, src_row, row_weight)", &diff_o, &src_o,
                              &weight_o))
            goto done;
        if (get_view(&views, diff_o, fn, "diff", 3, 1 << SKDCE_F32, 0) < 0
            || get_view(&views, src_o, fn, "src_row", 1, 1 << SKDCE_I64, 0) < 0
            || get_view(&views, weight_o, fn, "row_weight", 1, 1 << SKDCE_F32, 0) < 0)
            goto done;
        const Py_buffer *d = &views.v[3], *s = &views.v[4], *w = &views.v[5];
        const Py_ssize_t h = a->shape[0];
        if (a->shape[1] != job.cols || a->shape[2] != job.n_color || d->shape[0] != h || d->shape[1] != job.cols
            || d->shape[2] != job.n_color || s->shape[0] != job.rows || w->shape[0] != job.rows) {
            PyErr_SetString(PyExc_ValueError, "le_curves: a and diff must be (h, cols, n_color) like the block, "
                            "src_row and row_weight one entry per block row");
            goto done;
        }
        if (stride(d, 1) != (job.cols > 1 ? job.n_color : 0) || stride(d, 2) != (job.n_color > 1 ? 1 : 0)) {
            PyErr_SetString(PyExc_ValueError, "le_curves: diff's pixels must be packed (channel-last rows)");
            goto done;
        }
        if (check_apart(y, y_type, d, SKDCE_F32, fn, "y", "diff") < 0)
            goto done;
        rows_src = PyMem_RawMalloc(sizeof(int64_t) * (job.rows + 1));
        rows_weight = PyMem_RawMalloc(sizeof(float) * (job.rows + 1));
        if (rows_src == NULL || rows_weight == NULL) {
            PyErr_NoMemory();
            goto done;
        }
        for (Py_ssize_t r = 0; r < job.rows; r++) {
            rows_src[r] = *(const int64_t *)((const char *)s->buf + r * s->strides[0]);
            rows_weight[r] = *(const float *)((const char *)w->buf + r * w->strides[0]);
            if (rows_src[r] < 0 || rows_src[r] >= h) {
                PyErr_Format(PyExc_ValueError, "le_curves: src_row[%zd] = %lld is outside [0, %zd)", r,
                             (long long)rows_src[r], h);
                goto done;
            }
        }
        job.a_row = stride(a, 0), job.a_pix = stride(a, 1), job.a_ch = stride(a, 2), job.a_iter = 0;
        job.diff = d->buf;
        job.diff_row = stride(d, 0);
        job.src_row = rows_src;
        job.row_weight = rows_weight;
    }
    result = PyLong_FromLong(run_le(&job));
done:
    release_views(&views);
    PyMem_RawFree(rows_src);
    PyMem_RawFree(rows_weight);
    return result;
}

/* Sum of one image row into acc (length cols * nc), converted to double. */
#define ACC_ROW(T)                                                               \
    do {                                                                         \
        const T *src = (const T *)row;                                           \
        if (ch == 1 && pix == nc) {                                              \
            for (Py_ssize_t j = 0; j < cols * nc; j++)                           \
                acc[j] += src[j];                                                \
        } else {                                                                 \
            for (Py_ssize_t p = 0; p < cols; p++)                                \
                for (Py_ssize_t c = 0; c < nc; c++)                              \
                    acc[p * nc + c] += src[p * pix + c * ch];                    \
        }                                                                        \
    } while (0)

typedef struct {
    const char *x;
    int x_type, out_type;
    Py_ssize_t cols, nc, x_row, pix, ch;  /* strides in elements */
    const int64_t *ey, *ex;               /* bin edges, checked: increasing, within the image */
    Py_ssize_t w;
    char *out;
    Py_ssize_t out_row, out_pix, out_ch;
} box_t;

MULTIVERSION
static void box_rows(const box_t *job, Py_ssize_t i0, Py_ssize_t i1, double *acc)
{
    const Py_ssize_t cols = job->cols, nc = job->nc, pix = job->pix, ch = job->ch;
    const int64_t *ey = job->ey, *ex = job->ex;
    for (Py_ssize_t i = i0; i < i1; i++) {
        for (Py_ssize_t j = 0; j < cols * nc; j++)
            acc[j] = 0.0;
        for (int64_t y = ey[i]; y < ey[i + 1]; y++) {
            const char *row = job->x + skdce_type_size[job->x_type] * (y * job->x_row);
            switch (job->x_type) {
            case SKDCE_U8: ACC_ROW(uint8_t); break;
            case SKDCE_U16: ACC_ROW(uint16_t); break;
            case SKDCE_F32: ACC_ROW(float); break;
            default: ACC_ROW(double); break;
            }
        }
        const double rows_in = (double)(ey[i + 1] - ey[i]);
        for (Py_ssize_t j = 0; j < job->w; j++) {
            const double count = rows_in * (double)(ex[j + 1] - ex[j]);
            for (Py_ssize_t c = 0; c < nc; c++) {
                double sum = 0.0;
                for (int64_t p = ex[j]; p < ex[j + 1]; p++)
                    sum += acc[p * nc + c];
                const Py_ssize_t at = i * job->out_row + j * job->out_pix + c * job->out_ch;
                if (job->out_type == SKDCE_F32)
                    ((float *)job->out)[at] = (float)(sum / count);
                else
                    ((double *)job->out)[at] = sum / count;
            }
        }
    }
}

/* Copy a 1-D int64 buffer of n + 1 bin edges, checking 0 <= e[0] < e[1] < ... <= limit. */
static int64_t *read_edges(const Py_buffer *v, Py_ssize_t limit, const char *name)
{
    const Py_ssize_t n = v->shape[0];
    int64_t *e = PyMem_RawMalloc(sizeof(int64_t) * (n > 0 ? n : 1));
    if (e == NULL) {
        PyErr_NoMemory();
        return NULL;
    }
    for (Py_ssize_t k = 0; k < n; k++) {
        e[k] = *(const int64_t *)((const char *)v->buf + k * v->strides[0]);
        if (e[k] < 0 || e[k] > limit || (k > 0 && e[k] <= e[k - 1])) {
            PyErr_Format(PyExc_ValueError, "box_mean: %s must increase from >= 0 to <= %zd (entry %zd is %lld)", name,
                         limit, k, (long long)e[k]);
            PyMem_RawFree(e);
            return NULL;
        }
    }
    return e;
}

PyDoc_STRVAR(box_mean_doc,
"box_mean(x, ey, ex, out, i0, i1)\n\n"
"Output rows i0:i1 of a box downscaling of one (rows, cols, n_color) image x\n"
"(uint8, uint16, float32 or float64): out[i, j] is the mean of the pixels in\n"
"rows ey[i]:ey[i+1] and columns ex[j]:ex[j+1], summed in double. ey and ex\n"
"are increasing int64 bin edges within the image; out is a writable\n"
"(len(ey) - 1, len(ex) - 1, n_color) float32 or float64 array apart from x.\n"
"Every buffer is checked; a bad one raises TypeError or ValueError.");

static PyObject *box_mean(PyObject *self, PyObject *args)
{
    static const char *fn = "box_mean";
    PyObject *xo, *eyo, *exo, *outo, *result = NULL;
    Py_ssize_t i0, i1;
    if (!PyArg_ParseTuple(args, "OOOOnn", &xo, &eyo, &exo, &outo, &i0, &i1))
        return NULL;
    views_t views = {.n = 0};
    int64_t *ey = NULL, *ex = NULL;
    double *acc = NULL;
    box_t job;
    const int x_type = get_view(&views, xo, fn, "x", 3, ANY_IMAGE, 0);
    if (x_type < 0 || get_view(&views, eyo, fn, "ey", 1, 1 << SKDCE_I64, 0) < 0
        || get_view(&views, exo, fn, "ex", 1, 1 << SKDCE_I64, 0) < 0)
        goto done;
    const int out_type = get_view(&views, outo, fn, "out", 3, ANY_FLOAT, 1);
    if (out_type < 0)
        goto done;
    const Py_buffer *x = &views.v[0], *vy = &views.v[1], *vx = &views.v[2], *out = &views.v[3];
    const Py_ssize_t h = vy->shape[0] - 1, w = vx->shape[0] - 1;
    if (h < 0 || w < 0 || out->shape[0] != h || out->shape[1] != w || out->shape[2] != x->shape[2]) {
        PyErr_SetString(PyExc_ValueError, "box_mean: out must be (len(ey) - 1, len(ex) - 1, n_color)");
        goto done;
    }
    if (i0 < 0 || i0 > i1 || i1 > h) {
        PyErr_Format(PyExc_ValueError, "box_mean: rows %zd:%zd are not within 0:%zd", i0, i1, h);
        goto done;
    }
    if (check_no_self_overlap(out, fn, "out") < 0 || check_apart(out, out_type, x, x_type, fn, "out", "x") < 0)
        goto done;
    if ((ey = read_edges(vy, x->shape[0], "ey")) == NULL || (ex = read_edges(vx, x->shape[1], "ex")) == NULL)
        goto done;
    job.x = x->buf, job.x_type = x_type, job.out_type = out_type;
    job.cols = x->shape[1], job.nc = x->shape[2];
    job.x_row = stride(x, 0), job.pix = stride(x, 1), job.ch = stride(x, 2);
    job.ey = ey, job.ex = ex, job.w = w;
    job.out = out->buf;
    job.out_row = stride(out, 0), job.out_pix = stride(out, 1), job.out_ch = stride(out, 2);
    acc = PyMem_RawMalloc(sizeof(double) * (job.cols * job.nc > 0 ? job.cols * job.nc : 1));
    if (acc == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    Py_BEGIN_ALLOW_THREADS
    box_rows(&job, i0, i1, acc);
    Py_END_ALLOW_THREADS
    Py_INCREF(Py_None);
    result = Py_None;
done:
    release_views(&views);
    PyMem_RawFree(ey);
    PyMem_RawFree(ex);
    PyMem_RawFree(acc);
    return result;
}

MULTIVERSION
static int range_ok(const char *base, int type, Py_ssize_t n, Py_ssize_t step, double lo, double hi)
{
    int bad = 0;
    if (step == 1) {
        if (type == SKDCE_F32)
            CHECK_RANGE((const float *)base, n, (float)lo, (float)hi, 1, bad);
        else
            CHECK_RANGE((const double *)base, n, lo, hi, 1, bad);
    } else if (type == SKDCE_F32) {
        for (Py_ssize_t j = 0; j < n; j++) {
            const float v = ((const float *)base)[j * step];
            bad |= !(v >= (float)lo && v <= (float)hi);
        }
    } else {
        for (Py_ssize_t j = 0; j < n; j++) {
            const double v = ((const double *)base)[j * step];
            bad |= !(v >= lo && v <= hi);
        }
    }
    return !bad;
}

PyDoc_STRVAR(in_range_doc,
"in_range(x, lo, hi) -> bool\n\n"
"Whether all values of the 1-D float32 or float64 buffer x lie in [lo, hi]\n"
"(NaN does not).");

static PyObject *in_range(PyObject *self, PyObject *args)
{
    PyObject *xo;
    double lo, hi;
    int ok;
    if (!PyArg_ParseTuple(args, "Odd", &xo, &lo, &hi))
        return NULL;
    views_t views = {.n = 0};
    const int x_type = get_view(&views, xo, "in_range", "x", 1, ANY_FLOAT, 0);
    if (x_type < 0) {
        release_views(&views);
        return NULL;
    }
    const Py_buffer *x = &views.v[0];
    const char *base = x->buf;
    const Py_ssize_t n = x->shape[0], step = stride(x, 0);
    Py_BEGIN_ALLOW_THREADS
    ok = range_ok(base, x_type, n, step, lo, hi);
    Py_END_ALLOW_THREADS
    release_views(&views);
    return PyBool_FromLong(ok);
}

static PyMethodDef methods[] = {
    {"le_curves", le_curves, METH_VARARGS, le_curves_doc},
    {"box_mean", box_mean, METH_VARARGS, box_mean_doc},
    {"in_range", in_range, METH_VARARGS, in_range_doc},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_kernels", "Compiled curve kernel of skdce (internal).", -1, methods,
};

PyMODINIT_FUNC PyInit__kernels(void)
{
    return PyModule_Create(&module);
}
