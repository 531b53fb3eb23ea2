/*
 * skdce._kernels: the light-enhancement curve LE(x) = x + a x (1 - x), applied
 * n times to a strided block of an image in one pass over memory, and the box
 * downscaling of Zero-DCE++.
 *
 * Python (skdce/curves.py) hands over the data pointers and element strides of
 * NumPy views it keeps alive for the duration of the call, and runs blocks of
 * one image on several threads: the GIL is released while a block is computed.
 * Without this module (no C compiler at install time) skdce runs the same
 * curves with NumPy ufuncs, slower.
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

#define CHUNK 256

enum { T_U8 = 0, T_U16 = 1, T_F32 = 2, T_F64 = 3 };
static const int type_size[] = {1, 2, 4, 8};  /* bytes per element, by type code */
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
    int x_type, y_type;                   /* y and a share y_type (T_F32 or T_F64) */
    Py_ssize_t rows, cols, n_color, n_iter;
    Py_ssize_t x_row, x_pix, x_ch;        /* strides in elements */
    Py_ssize_t y_row, y_pix, y_ch;
    Py_ssize_t a_row, a_pix, a_ch, a_iter;
    double scale;                         /* 1/max for integer input, else 1 */
    int check_image, check_alpha;
    /* Row interpolation (Zero-DCE++ maps upsampled on the fly), or NULLs: the
     * alphas of row r are a[src[r]] + w[r] * diff[src[r]] (float32 rows). */
    const char *diff;
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
    case T_U8: GATHER_LOOP(uint8_t); break;
    case T_U16: GATHER_LOOP(uint16_t); break;
    case T_F32: GATHER_LOOP(float); break;
    default: GATHER_LOOP(double); break;
    }
}

/* alphas in their own dtype (T_F32 or T_F64) */
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
    if (job->x_type == T_F32) {
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
        if (job->y_type == T_F32)                                                \
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
        gather_image(v, xr + type_size[job->x_type] * (c * job->x_ch), job->x_type, np, 1, job->x_pix, 1);
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
    const char *xr = job->x + type_size[job->x_type] * (r * job->x_row + p0 * job->x_pix);
    char *yr = job->y + type_size[job->y_type] * (r * job->y_row + p0 * job->y_pix);
    if (job->src_row != NULL) {  /* float32 rows, packed pixels (checked by the caller) */
        Py_ssize_t offset = 4 * (job->src_row[r] * job->a_row + p0 * job->a_pix);
        return chunk_shared_f32(job, xr, job->a + offset, job->diff + offset, job->row_weight[r], yr, np);
    }
    const char *ar = job->a + type_size[job->y_type] * (r * job->a_row + p0 * job->a_pix);
    if (job->y_type == T_F64)
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

PyDoc_STRVAR(le_curves_doc,
"le_curves(x, x_type, y, y_type, a, rows, cols, n_color, n_iter, x_strides, y_strides, a_strides,\n"
"          scale, check_image, check_alpha[, (diff, src_row, row_weight)]) -> flags\n\n"
"Apply LE n_iter times to a (rows, cols, n_color) block. x, y, a are data\n"
"addresses; x_strides = (row, pixel, channel), y_strides likewise, a_strides =\n"
"(row, pixel, channel, iteration), all in elements. Returns a bit set: 1 if an\n"
"image value was outside [0, 1] or NaN, 2 if an alpha was outside [-1, 1] or NaN\n"
"(checked only when asked). With the last argument the alphas of block row r\n"
"are a[src_row[r]] + row_weight[r] * diff[src_row[r]] (int64 and float32\n"
"arrays; a and diff float32 rows a_row apart). Internal: the caller\n"
"guarantees the addresses.");

static PyObject *le_curves(PyObject *self, PyObject *args)
{
    job_t job;
    unsigned long long x, y, a, diff = 0, src_row = 0, row_weight = 0;
    if (!PyArg_ParseTuple(args, "KiKiKnnnn(nnn)(nnn)(nnnn)dpp|(KKK)",
                          &x, &job.x_type, &y, &job.y_type, &a,
                          &job.rows, &job.cols, &job.n_color, &job.n_iter,
                          &job.x_row, &job.x_pix, &job.x_ch,
                          &job.y_row, &job.y_pix, &job.y_ch,
                          &job.a_row, &job.a_pix, &job.a_ch, &job.a_iter,
                          &job.scale, &job.check_image, &job.check_alpha,
                          &diff, &src_row, &row_weight))
        return NULL;
    job.diff = (const char *)(uintptr_t)diff;
    job.src_row = (const int64_t *)(uintptr_t)src_row;
    job.row_weight = (const float *)(uintptr_t)row_weight;
    if (job.src_row != NULL && (job.y_type != T_F32 || job.a_iter != 0 || job.a_ch != 1 || job.a_pix != job.n_color)) {
        PyErr_SetString(PyExc_ValueError, "le_curves: row interpolation needs float32 output and packed shared maps");
        return NULL;
    }
    if (job.x_type < T_U8 || job.x_type > T_F64 || (job.y_type != T_F32 && job.y_type != T_F64)) {
        PyErr_SetString(PyExc_ValueError, "le_curves: unsupported dtype code");
        return NULL;
    }
    if (job.rows < 0 || job.cols < 0 || job.n_color < 1 || job.n_color > CHUNK || job.n_iter < 0) {
        PyErr_SetString(PyExc_ValueError, "le_curves: bad block shape");
        return NULL;
    }
    job.x = (char *)(uintptr_t)x;
    job.y = (char *)(uintptr_t)y;
    job.a = (char *)(uintptr_t)a;
    int bad;
    Py_BEGIN_ALLOW_THREADS
#if defined(__SSE2__)
    /* Flush subnormals to zero: a = -1 drives dark values through x^256, and
     * subnormal arithmetic is 10-100x slower. They are below 1e-307, far under
     * anything a float32 output holds. This thread's previous mode is restored. */
    unsigned int csr = _mm_getcsr();
    _mm_setcsr(csr | 0x8040);  /* FTZ | DAZ */
#endif
    bad = run_job(&job);
#if defined(__SSE2__)
    _mm_setcsr(csr);
#endif
    Py_END_ALLOW_THREADS
    return PyLong_FromLong(bad);
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

MULTIVERSION
static void box_rows(const char *x, int x_type, Py_ssize_t cols, Py_ssize_t nc, Py_ssize_t x_row,
                     Py_ssize_t pix, Py_ssize_t ch, const int64_t *ey, const int64_t *ex, Py_ssize_t w,
                     char *out, int out_type, Py_ssize_t out_row, Py_ssize_t i0, Py_ssize_t i1, double *acc)
{
    for (Py_ssize_t i = i0; i < i1; i++) {
        for (Py_ssize_t j = 0; j < cols * nc; j++)
            acc[j] = 0.0;
        for (int64_t y = ey[i]; y < ey[i + 1]; y++) {
            const char *row = x + type_size[x_type] * (y * x_row);
            switch (x_type) {
            case T_U8: ACC_ROW(uint8_t); break;
            case T_U16: ACC_ROW(uint16_t); break;
            case T_F32: ACC_ROW(float); break;
            default: ACC_ROW(double); break;
            }
        }
        const double rows_in = (double)(ey[i + 1] - ey[i]);
        for (Py_ssize_t j = 0; j < w; j++) {
            const double count = rows_in * (double)(ex[j + 1] - ex[j]);
            for (Py_ssize_t c = 0; c < nc; c++) {
                double sum = 0.0;
                for (int64_t p = ex[j]; p < ex[j + 1]; p++)
                    sum += acc[p * nc + c];
                if (out_type == T_F32)
                    ((float *)out)[i * out_row + j * nc + c] = (float)(sum / count);
                else
                    ((double *)out)[i * out_row + j * nc + c] = sum / count;
            }
        }
    }
}

PyDoc_STRVAR(box_mean_doc,
"box_mean(x, x_type, cols, n_color, x_strides, ey, ex, w, out, out_type, i0, i1)\n\n"
"Output rows i0:i1 of a box downscaling of one (rows, cols, n_color) image x\n"
"(strides (row, pixel, channel) in elements): out[i, j] is the mean of the\n"
"pixels in rows ey[i]:ey[i+1] and columns ex[j]:ex[j+1] (int64 bin edges),\n"
"summed in double. out is a packed (h, w, n_color) float32 or float64 array.\n"
"Internal: the caller guarantees the addresses.");

static PyObject *box_mean(PyObject *self, PyObject *args)
{
    unsigned long long x, ey, ex, out;
    int x_type, out_type;
    Py_ssize_t cols, nc, x_row, pix, ch, w, i0, i1;
    if (!PyArg_ParseTuple(args, "Kinn(nnn)KKnKinn", &x, &x_type, &cols, &nc, &x_row, &pix, &ch, &ey, &ex, &w,
                          &out, &out_type, &i0, &i1))
        return NULL;
    if (x_type < T_U8 || x_type > T_F64 || (out_type != T_F32 && out_type != T_F64) || cols < 1 || nc < 1) {
        PyErr_SetString(PyExc_ValueError, "box_mean: unsupported dtype code or shape");
        return NULL;
    }
    double *acc = PyMem_RawMalloc(sizeof(double) * cols * nc);
    if (acc == NULL)
        return PyErr_NoMemory();
    Py_BEGIN_ALLOW_THREADS
    box_rows((const char *)(uintptr_t)x, x_type, cols, nc, x_row, pix, ch, (const int64_t *)(uintptr_t)ey,
             (const int64_t *)(uintptr_t)ex, w, (char *)(uintptr_t)out, out_type, w * nc, i0, i1, acc);
    Py_END_ALLOW_THREADS
    PyMem_RawFree(acc);
    Py_RETURN_NONE;
}

MULTIVERSION
static int range_ok(const char *base, int type, Py_ssize_t n, double lo, double hi)
{
    int bad = 0;
    if (type == T_F32)
        CHECK_RANGE((const float *)base, n, (float)lo, (float)hi, 1, bad);
    else
        CHECK_RANGE((const double *)base, n, lo, hi, 1, bad);
    return !bad;
}

PyDoc_STRVAR(in_range_doc,
"in_range(x, x_type, n, lo, hi) -> bool\n\n"
"Whether all n packed float32 (x_type 2) or float64 (3) values at address x lie\n"
"in [lo, hi] (NaN does not). Internal: the caller guarantees the address.");

static PyObject *in_range(PyObject *self, PyObject *args)
{
    unsigned long long x;
    int x_type, ok;
    Py_ssize_t n;
    double lo, hi;
    if (!PyArg_ParseTuple(args, "Kindd", &x, &x_type, &n, &lo, &hi))
        return NULL;
    if (x_type != T_F32 && x_type != T_F64) {
        PyErr_SetString(PyExc_ValueError, "in_range: unsupported dtype code");
        return NULL;
    }
    Py_BEGIN_ALLOW_THREADS
    ok = range_ok((const char *)(uintptr_t)x, x_type, n, lo, hi);
    Py_END_ALLOW_THREADS
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
