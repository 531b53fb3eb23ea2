/*
 * skdce/native/_temporal.c: the per-pixel passes of skdce.video's temporal filter, compiled
 * (skdce.native._temporal).
 *
 * Hand-written because no library has them: a motion-adaptive recursive
 * (IIR) average that tracks the noise variance left in each pixel, the motion
 * test that steers it (box means of the difference to the running average,
 * measured against that noise), and the strength map of the spatial filter
 * after it. In NumPy/scipy they took about fifteen full-frame passes and as
 * many temporaries (some 60 ms of a 720p frame on one core); here each is one
 * pass over the frame, in row bands the caller runs on its worker threads
 * (the GIL is released). skdce/video/_temporal.py holds the NumPy twin of every
 * function, which is the fallback without a C compiler and the oracle of the
 * tests (tests/test_temporal.py): same operations, same order, in float32.
 *
 * After the curves, two more: guided_half, the spatial filter of the video path (the guided filter of
 * skdce/engine/stages/guided.py with its coefficients at half resolution, a fast guided filter), and
 * yuv420, the black point and the conversion to the encoder's 8-bit YUV 4:2:0 in one pass (FFmpeg's swscale
 * and OpenCV's cvtColor convert 8-bit RGB, which took rounding the float frame to RGB24 first, and two more
 * passes over it).
 *
 * Arrays come through the buffer protocol, C-contiguous and native-endian:
 *   frame    (H, W, 3) uint8, uint16 or float32, scaled by `scale` to [0, 1]
 *   average  (H, W, 3) float32   the running average of the frames
 *   luma, variance, keep, ... (H, W) float32
 * A state array is read moved by (dy, dx): pixel (y, x) of the new frame sees
 * the state at (y - dy, x - dx); where that lies outside the frame (uncovered
 * by a pan) the state is empty: average 0, variance 1, keep 0.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "_buffer.h"

enum { T_U8 = SKDCE_U8, T_U16 = SKDCE_U16, T_F32 = SKDCE_F32 };

/* The row kernels are compiled for AVX-512, AVX2 and the baseline, the one the CPU has chosen at load time (as
 * skdce/native/_gfilter.c does): the same operations, in the same order, on wider vectors (no FMA contraction:
 * -ffp-contract=off), so the results are the same on every CPU. */
#if defined(__GNUC__) && defined(__x86_64__) && !defined(__clang__)
#define ROW_KERNEL __attribute__((noinline, target_clones("arch=x86-64-v4", "avx2", "default")))
#else
#define ROW_KERNEL
#endif

/* The element type of a native-endian buffer: uint8, uint16 or float32 (the format parsing shared with the
 * other kernels, _buffer.h), else -1. */
static int buffer_type(const Py_buffer *v)
{
    int t = skdce_buffer_type(v);
    return t == SKDCE_U8 || t == SKDCE_U16 || t == SKDCE_F32 ? t : -1;
}

/* Get a C-contiguous buffer of `ndim` dims (writable if asked); sets a ValueError naming `name` otherwise. */
static int get(PyObject *obj, Py_buffer *v, const char *name, int ndim, int writable)
{
    int flags = PyBUF_C_CONTIGUOUS | PyBUF_FORMAT | (writable ? PyBUF_WRITABLE : 0);
    if (PyObject_GetBuffer(obj, v, flags) < 0) {
        PyErr_Clear();
        PyErr_Format(PyExc_ValueError, "_temporal: %s must be a C-contiguous%s array", name,
                     writable ? ", writable" : "");
        return -1;
    }
    if (v->ndim != ndim || v->len == 0 || ((uintptr_t)v->buf % (uintptr_t)v->itemsize) != 0) {
        PyBuffer_Release(v);
        PyErr_Format(PyExc_ValueError, "_temporal: %s must have %d dimensions, be non-empty and aligned", name,
                     ndim);
        return -1;
    }
    return 0;
}

/* get() for n buffers, the ones from index first_out on writable; on a failure those already held are released. */
static int get_all(PyObject *const *objs, Py_buffer *b, const char *const *names, const int *dims, int n,
                   int first_out)
{
    for (int i = 0; i < n; i++) {
        if (get(objs[i], &b[i], names[i], dims[i], i >= first_out) < 0) {
            for (int j = 0; j < i; j++)
                PyBuffer_Release(&b[j]);
            return -1;
        }
    }
    return 0;
}

/* Release n buffers and end the call: a ValueError with err, a MemoryError, or None. */
static PyObject *release_all(Py_buffer *b, int n, const char *err, int nomem)
{
    for (int i = 0; i < n; i++)
        PyBuffer_Release(&b[i]);
    if (err != NULL) {
        PyErr_SetString(PyExc_ValueError, err);
        return NULL;
    }
    if (nomem)
        return PyErr_NoMemory();
    Py_RETURN_NONE;
}

static inline Py_ssize_t clampi(Py_ssize_t i, Py_ssize_t n)
{
    return i < 0 ? 0 : (i >= n ? n - 1 : i);
}

/* ---------------------------------------------------------------------------------------------------------- */

/* The channel means of pixels i0:i1, one loop per element type (the type is not tested per value: it vectorises). */
ROW_KERNEL static void luma_rows(const void *frame, int t, Py_ssize_t i0, Py_ssize_t i1, float s, float third,
                                 float *restrict out)
{
    if (t == T_U8) {
        const uint8_t *restrict p = frame;
        for (Py_ssize_t i = i0; i < i1; i++)
            out[i] = (((float)p[3 * i] * s + (float)p[3 * i + 1] * s) + (float)p[3 * i + 2] * s) * third;
    } else if (t == T_U16) {
        const uint16_t *restrict p = frame;
        for (Py_ssize_t i = i0; i < i1; i++)
            out[i] = (((float)p[3 * i] * s + (float)p[3 * i + 1] * s) + (float)p[3 * i + 2] * s) * third;
    } else {
        const float *restrict p = frame;
        for (Py_ssize_t i = i0; i < i1; i++)
            out[i] = ((p[3 * i] * s + p[3 * i + 1] * s) + p[3 * i + 2] * s) * third;
    }
}

PyDoc_STRVAR(luma_doc,
"luma(frame, scale, out, r0, r1)\n\n"
"Rows r0:r1 of the channel mean ((r + g) + b) * (1/3) of frame * scale, into out (H, W) float32.");

static PyObject *luma(PyObject *self, PyObject *args)
{
    PyObject *fo, *oo;
    double scale;
    Py_ssize_t r0, r1;
    if (!PyArg_ParseTuple(args, "OdOnn", &fo, &scale, &oo, &r0, &r1))
        return NULL;
    Py_buffer f, o;
    if (get(fo, &f, "frame", 3, 0) < 0)
        return NULL;
    if (get(oo, &o, "out", 2, 1) < 0) {
        PyBuffer_Release(&f);
        return NULL;
    }
    const int t = buffer_type(&f);
    const Py_ssize_t h = f.shape[0], w = f.shape[1];
    const char *err = NULL;
    if (t < 0 || buffer_type(&o) != T_F32 || f.shape[2] != 3 || o.shape[0] != h || o.shape[1] != w)
        err = "luma: frame must be (H, W, 3) uint8, uint16 or float32 and out (H, W) float32";
    else if (r0 < 0 || r1 > h || r0 > r1)
        err = "luma: rows r0:r1 outside the frame";
    else if (skdce_buffers_overlap(&f, &o))
        err = "luma: out must not share memory with frame";
    if (err == NULL) {
        const float s = (float)scale, third = 1.0f / 3.0f;
        float *out = o.buf;
        Py_BEGIN_ALLOW_THREADS
        luma_rows(f.buf, t, r0 * w, r1 * w, s, third, out);
        Py_END_ALLOW_THREADS
    }
    PyBuffer_Release(&f);
    PyBuffer_Release(&o);
    if (err != NULL) {
        PyErr_SetString(PyExc_ValueError, err);
        return NULL;
    }
    Py_RETURN_NONE;
}

/* ---------------------------------------------------------------------------------------------------------- */

/* Row sy of a state plane moved by dx columns (its columns x0:x1 see x - dx), scaled by level and bounded
 * by 1 (level != 1 only), into out; `fill` where the row or column lies outside the frame. */
static void state_row(const float *plane, Py_ssize_t sy, Py_ssize_t h, Py_ssize_t w, Py_ssize_t dx, Py_ssize_t x0,
                      Py_ssize_t x1, float level, float fill, float *out)
{
    if (sy < 0 || sy >= h || x0 >= x1) {
        for (Py_ssize_t x = 0; x < w; x++)
            out[x] = fill;
        return;
    }
    const float *src = plane + sy * w - dx;
    for (Py_ssize_t x = 0; x < x0; x++)
        out[x] = fill;
    if (level == 1.0f)
        memcpy(out + x0, src + x0, sizeof(float) * (size_t)(x1 - x0));
    else
        for (Py_ssize_t x = x0; x < x1; x++) {
            const float a = src[x] * level;
            out[x] = a < 1.0f ? a : 1.0f;
        }
    for (Py_ssize_t x = x1; x < w; x++)
        out[x] = fill;
}

/* The parameters of the motion test (skdce.video._temporal: STATIC, MOVING, DRIFT_STATIC, DRIFT_MOVING, _ABS_MEAN). */
typedef struct {
    float sigma, level, moving, ramp, dmoving, dramp, c5, c9;
} weigh_params;

/* The row kernels of weigh(), apart so that the compiler vectorises them (restrict: no aliasing). */
ROW_KERNEL static void diff_row(const float *restrict lum, const float *restrict state, float *restrict d,
                                float *restrict ad,
                     Py_ssize_t w)
{
    for (Py_ssize_t x = 0; x < w; x++) {
        d[x] = lum[x] - state[x];
        ad[x] = fabsf(d[x]);
    }
}

ROW_KERNEL static void add_row(float *restrict acc, const float *restrict src, Py_ssize_t w)
{
    for (Py_ssize_t x = 0; x < w; x++)
        acc[x] += src[x];
}

/* keep of one row from the vertical sums v5, v9 (edge-padded by 4 on each side) and the variance row vr */
ROW_KERNEL static void keep_row(const float *restrict v5, const float *restrict v9, const float *restrict vr,
                     float *restrict kr, Py_ssize_t w, const weigh_params *p)
{
    const float sigma = p->sigma, moving = p->moving, ramp = p->ramp, dmoving = p->dmoving, dramp = p->dramp;
    const float c5 = p->c5, c9 = p->c9;
    for (Py_ssize_t x = 0; x < w; x++) {
        const float b5 = (((v5[x + 2] + v5[x + 3]) + v5[x + 4]) + v5[x + 5]) + v5[x + 6];
        const float b9 = (((((((v9[x] + v9[x + 1]) + v9[x + 2]) + v9[x + 3]) + v9[x + 4]) + v9[x + 5]) + v9[x + 6])
                          + v9[x + 7]) + v9[x + 8];
        float noise = sigma * sqrtf(1.0f + vr[x]);
        noise = noise > 1e-6f ? noise : 1e-6f;
        const float rn = 1.0f / noise;
        float kp = (moving - (b5 * c5) * rn) * ramp;
        kp = kp < 0.0f ? 0.0f : (kp > 1.0f ? 1.0f : kp);
        float kd = (dmoving - (fabsf(b9) * c9) * rn) * dramp;
        kd = kd < 0.0f ? 0.0f : (kd > 1.0f ? 1.0f : kd);
        kr[x] = kd < kp ? kd : kp;
    }
}

/* The counts and sums of the cut and level tests over one row (the state's luma is lum - d); eight
 * float lanes per row (vectorised), added up in double. */
ROW_KERNEL static void stats_row(const float *restrict kr, const float *restrict lum, const float *restrict d,
                                 Py_ssize_t w,
                      long long *n_moving, long long *n_still, double *sum_l, double *sum_s)
{
    float ml[8] = {0}, sl[8] = {0}, ll[8] = {0}, rl[8] = {0};
    Py_ssize_t x = 0;
    for (; x + 8 <= w; x += 8)
        for (int j = 0; j < 8; j++) {
            const float kp = kr[x + j];
            const float still = kp > 0.5f ? 1.0f : 0.0f;
            ml[j] += kp < 0.5f ? 1.0f : 0.0f;
            sl[j] += still;
            ll[j] += still * lum[x + j];
            rl[j] += still * (lum[x + j] - d[x + j]);
        }
    for (; x < w; x++) {
        const float kp = kr[x];
        const float still = kp > 0.5f ? 1.0f : 0.0f;
        ml[0] += kp < 0.5f ? 1.0f : 0.0f;
        sl[0] += still;
        ll[0] += still * lum[x];
        rl[0] += still * (lum[x] - d[x]);
    }
    for (int j = 0; j < 8; j++) {
        *n_moving += (long long)ml[j];
        *n_still += (long long)sl[j];
        *sum_l += ll[j];
        *sum_s += rl[j];
    }
}

PyDoc_STRVAR(weigh_doc,
"weigh(luma, state_luma, variance, keep, dy, dx, level, sigma, moving, ramp, drift_moving, drift_ramp, c5, c9,\n"
"      r0, r1) -> (moving, still, sum_luma, sum_state)\n\n"
"Rows r0:r1 of the share of its past each pixel keeps (skdce.video._temporal.weigh), into keep (H, W) float32.\n"
"Returns, over those rows, the pixels with keep < 0.5 and > 0.5, and the sums of luma and of the moved\n"
"state's luma over the latter.");

static PyObject *weigh(PyObject *self, PyObject *args)
{
    PyObject *lo, *so, *vo, *ko;
    Py_ssize_t dy, dx, r0, r1;
    double level, sigma, mv, ramp, dmv, dramp, c5, c9;
    if (!PyArg_ParseTuple(args, "OOOOnnddddddddnn", &lo, &so, &vo, &ko, &dy, &dx, &level, &sigma, &mv, &ramp, &dmv,
                          &dramp, &c5, &c9, &r0, &r1))
        return NULL;
    Py_buffer l, s, v, k;
    if (get(lo, &l, "luma", 2, 0) < 0)
        return NULL;
    if (get(so, &s, "state_luma", 2, 0) < 0) {
        PyBuffer_Release(&l);
        return NULL;
    }
    if (get(vo, &v, "variance", 2, 0) < 0) {
        PyBuffer_Release(&l);
        PyBuffer_Release(&s);
        return NULL;
    }
    if (get(ko, &k, "keep", 2, 1) < 0) {
        PyBuffer_Release(&l);
        PyBuffer_Release(&s);
        PyBuffer_Release(&v);
        return NULL;
    }
    const Py_ssize_t h = l.shape[0], w = l.shape[1];
    const char *err = NULL;
    if (buffer_type(&l) != T_F32 || buffer_type(&s) != T_F32 || buffer_type(&v) != T_F32 || buffer_type(&k) != T_F32)
        err = "weigh: luma, state_luma, variance and keep must be float32";
    else if (s.shape[0] != h || s.shape[1] != w || v.shape[0] != h || v.shape[1] != w || k.shape[0] != h
             || k.shape[1] != w)
        err = "weigh: luma, state_luma, variance and keep must have one shape (H, W)";
    else if (r0 < 0 || r1 > h || r0 > r1)
        err = "weigh: rows r0:r1 outside the frame";
    else if (skdce_buffers_overlap(&k, &l) || skdce_buffers_overlap(&k, &s) || skdce_buffers_overlap(&k, &v))
        err = "weigh: keep must not share memory with the inputs";
    long long n_moving = 0, n_still = 0;
    double sum_l = 0, sum_s = 0;
    int nomem = 0;
    if (err == NULL && r1 > r0) {
        const weigh_params p = {(float)sigma, (float)level, (float)mv, (float)ramp, (float)dmv, (float)dramp, (float)c5,
                                (float)c9};
        /* rows r0 - 4 .. r1 + 4 (clamped) of the signed difference d and of |d|, and per-row work space */
        const Py_ssize_t y0 = r0 - 4 < 0 ? 0 : r0 - 4, y1 = r1 + 4 > h ? h : r1 + 4, n = y1 - y0;
        float *d = PyMem_RawMalloc(sizeof(float) * (size_t)(2 * n * w + 4 * (w + 8)));
        if (d == NULL)
            nomem = 1;
        else {
            const float *lum = l.buf, *sl = s.buf, *var = v.buf;
            float *keep = k.buf;
            Py_BEGIN_ALLOW_THREADS
            float *ad = d + n * w, *v5 = ad + n * w, *v9 = v5 + (w + 8), *ar = v9 + (w + 8), *vr = ar + (w + 8);
            /* the columns x0:x1 of a row see the state (x - dx inside the frame) */
            const Py_ssize_t x0 = dx > 0 ? (dx < w ? dx : w) : 0, x1 = dx < 0 ? (w + dx > 0 ? w + dx : 0) : w;
            for (Py_ssize_t y = y0; y < y1; y++) {
                state_row(sl, y - dy, h, w, dx, x0, x1, p.level, 0.0f, ar);
                diff_row(lum + y * w, ar, d + (y - y0) * w, ad + (y - y0) * w, w);
            }
            for (Py_ssize_t y = r0; y < r1; y++) {
                /* vertical sums, edge rows repeated (scipy's mode="nearest"), into v5/v9 at offset 4 */
                float *o5 = v5 + 4, *o9 = v9 + 4;
                memset(o5, 0, sizeof(float) * (size_t)w);
                memset(o9, 0, sizeof(float) * (size_t)w);
                for (Py_ssize_t j = -2; j <= 2; j++)
                    add_row(o5, ad + (clampi(y + j, h) - y0) * w, w);
                for (Py_ssize_t j = -4; j <= 4; j++)
                    add_row(o9, d + (clampi(y + j, h) - y0) * w, w);
                for (Py_ssize_t j = 0; j < 4; j++) {
                    v5[j] = v5[4];
                    v9[j] = v9[4];
                    v5[w + 4 + j] = v5[w + 3];
                    v9[w + 4 + j] = v9[w + 3];
                }
                const Py_ssize_t sy = y - dy;
                state_row(var, sy, h, w, dx, x0, x1, 1.0f, 1.0f, vr);  /* uncovered: variance 1 */
                float *kr = keep + y * w;
                keep_row(v5, v9, vr, kr, w, &p);
                if (sy < 0 || sy >= h)
                    memset(kr, 0, sizeof(float) * (size_t)w);
                else {
                    for (Py_ssize_t x = 0; x < x0; x++)
                        kr[x] = 0.0f;
                    for (Py_ssize_t x = x1; x < w; x++)
                        kr[x] = 0.0f;
                }
                stats_row(kr, lum + y * w, d + (y - y0) * w, w, &n_moving, &n_still, &sum_l, &sum_s);
            }
            Py_END_ALLOW_THREADS
            PyMem_RawFree(d);
        }
    }
    PyBuffer_Release(&l);
    PyBuffer_Release(&s);
    PyBuffer_Release(&v);
    PyBuffer_Release(&k);
    if (err != NULL) {
        PyErr_SetString(PyExc_ValueError, err);
        return NULL;
    }
    if (nomem)
        return PyErr_NoMemory();
    return Py_BuildValue("LLdd", n_moving, n_still, sum_l, sum_s);
}

/* ---------------------------------------------------------------------------------------------------------- */

/* n values of a frame from element i on, as float32 times scale. */
ROW_KERNEL static void frame_row(const void *frame, int t, Py_ssize_t i, Py_ssize_t n, float scale, float *restrict out)
{
    if (t == T_U8) {
        const uint8_t *restrict f = (const uint8_t *)frame + i;
        for (Py_ssize_t k = 0; k < n; k++)
            out[k] = (float)f[k] * scale;
    } else if (t == T_U16) {
        const uint16_t *restrict f = (const uint16_t *)frame + i;
        for (Py_ssize_t k = 0; k < n; k++)
            out[k] = (float)f[k] * scale;
    } else {
        const float *restrict f = (const float *)frame + i;
        for (Py_ssize_t k = 0; k < n; k++)
            out[k] = f[k] * scale;
    }
}

/* One row of the recursive average: x the frame, a the moved average, v its variance (3, 3, 1 floats a pixel). */
ROW_KERNEL static void accumulate_row(const float *restrict x, const float *restrict a, const float *restrict v,
                           const float *restrict keep, float *restrict ao, float *restrict vo, float *restrict lo,
                           Py_ssize_t w, float vmin, float hmax)
{
    const float third = 1.0f / 3.0f;
    for (Py_ssize_t i = 0; i < w; i++) {
        float held = keep[i] / (v[i] > vmin ? v[i] : vmin);
        held = held < hmax ? held : hmax;
        const float w_new = 1.0f / (1.0f + held), w_old = 1.0f - w_new;
        const float o0 = a[3 * i] * w_old + x[3 * i] * w_new;
        const float o1 = a[3 * i + 1] * w_old + x[3 * i + 1] * w_new;
        const float o2 = a[3 * i + 2] * w_old + x[3 * i + 2] * w_new;
        ao[3 * i] = o0;
        ao[3 * i + 1] = o1;
        ao[3 * i + 2] = o2;
        vo[i] = w_old * w_old * v[i] + w_new * w_new;
        lo[i] = ((o0 + o1) + o2) * third;
    }
}

PyDoc_STRVAR(accumulate_doc,
"accumulate(frame, scale, average, variance, keep, dy, dx, level, max_frames, average_out, variance_out,\n"
"           luma_out, r0, r1)\n\n"
"Rows r0:r1 of the recursive average after this frame (skdce.video._temporal.accumulate).");

static PyObject *accumulate(PyObject *self, PyObject *args)
{
    PyObject *fo, *ao, *vo, *ko, *aoo, *voo, *loo;
    double scale, level, max_frames;
    Py_ssize_t dy, dx, r0, r1;
    if (!PyArg_ParseTuple(args, "OdOOOnnddOOOnn", &fo, &scale, &ao, &vo, &ko, &dy, &dx, &level, &max_frames, &aoo,
                          &voo, &loo, &r0, &r1))
        return NULL;
    Py_buffer b[7];
    PyObject *objs[7] = {fo, ao, vo, ko, aoo, voo, loo};
    const char *names[7] = {"frame", "average", "variance", "keep", "average_out", "variance_out", "luma_out"};
    const int dims[7] = {3, 3, 2, 2, 3, 2, 2};
    if (get_all(objs, b, names, dims, 7, 4) < 0)
        return NULL;
    const int t = buffer_type(&b[0]);
    const Py_ssize_t h = b[0].shape[0], w = b[0].shape[1];
    const char *err = NULL;
    if (t < 0 || b[0].shape[2] != 3)
        err = "accumulate: frame must be (H, W, 3) uint8, uint16 or float32";
    for (int i = 1; i < 7 && err == NULL; i++) {
        if (buffer_type(&b[i]) != T_F32 || b[i].shape[0] != h || b[i].shape[1] != w
            || (dims[i] == 3 && b[i].shape[2] != 3))
            err = "accumulate: the state arrays must be float32, (H, W, 3) or (H, W) like frame";
    }
    if (err == NULL && (r0 < 0 || r1 > h || r0 > r1))
        err = "accumulate: rows r0:r1 outside the frame";
    for (int i = 4; i < 7 && err == NULL; i++)
        for (int j = 0; j < 7; j++)
            if (j != i && skdce_buffers_overlap(&b[i], &b[j]))
                err = "accumulate: the outputs must not share memory with each other or the inputs";
    int nomem = 0;
    if (err == NULL && r1 > r0) {
        float *mem = PyMem_RawMalloc(sizeof(float) * (size_t)(7 * w));
        if (mem == NULL)
            nomem = 1;
        else {
            const float s = (float)scale, lv = (float)level;
            const float vmin = (float)(1.0 / max_frames), hmax = (float)(max_frames - 1.0);
            const float *avg = b[1].buf, *var = b[2].buf, *keep = b[3].buf;
            float *ao_ = b[4].buf, *vo_ = b[5].buf, *lo_ = b[6].buf;
            const void *frame = b[0].buf;
            Py_BEGIN_ALLOW_THREADS
            float *xr = mem, *ar = mem + 3 * w, *vr = mem + 6 * w;
            const Py_ssize_t x0 = dx > 0 ? (dx < w ? dx : w) : 0, x1 = dx < 0 ? (w + dx > 0 ? w + dx : 0) : w;
            for (Py_ssize_t y = r0; y < r1; y++) {
                frame_row(frame, t, y * w * 3, 3 * w, s, xr);
                /* the average moved by (dy, dx): 3 floats a pixel, so the columns scale by 3 */
                state_row(avg, y - dy, h, 3 * w, 3 * dx, 3 * x0, 3 * x1, lv, 0.0f, ar);
                state_row(var, y - dy, h, w, dx, x0, x1, 1.0f, 1.0f, vr);
                accumulate_row(xr, ar, vr, keep + y * w, ao_ + 3 * y * w, vo_ + y * w, lo_ + y * w, w, vmin, hmax);
            }
            Py_END_ALLOW_THREADS
            PyMem_RawFree(mem);
        }
    }
    return release_all(b, 7, err, nomem);
}

/* ---------------------------------------------------------------------------------------------------------- */

/* Half-pixel bilinear taps of n_out samples over n_in (skdce.engine.stages.boxes.bilinear_taps): i0, i1, the weight
 * of i1. */
static void taps(Py_ssize_t n_in, Py_ssize_t n_out, Py_ssize_t *i0, Py_ssize_t *i1, float *wt)
{
    const double sc = (double)n_in / (double)n_out;
    for (Py_ssize_t i = 0; i < n_out; i++) {
        double src = ((double)i + 0.5) * sc - 0.5;
        src = src > 0.0 ? src : 0.0;
        Py_ssize_t a = (Py_ssize_t)floor(src);
        a = a < n_in - 1 ? a : n_in - 1;
        i0[i] = a;
        i1[i] = a + 1 < n_in - 1 ? a + 1 : n_in - 1;
        wt[i] = (float)(src - (double)a);
    }
}

/* One row of noise(): c0 the alpha of the row above, c1 that of the row below (the bilinear weight fy of the
 * latter); c0 <- the alpha, c1 <- the slope, the level in lv, one iteration at a time; lv ends as the output. */
ROW_KERNEL static void noise_row(float *restrict c0, float *restrict c1, float *restrict lv, const float *restrict lum,
                                 const float *restrict var, float fy, int n_iter, float amt, Py_ssize_t w)
{
    for (Py_ssize_t x = 0; x < w; x++) {
        c0[x] = c0[x] + fy * (c1[x] - c0[x]);
        c1[x] = 1.0f;
        lv[x] = lum[x];
    }
    for (int it = 0; it < n_iter; it++)
        for (Py_ssize_t x = 0; x < w; x++) {
            float step = lv[x] * -2.0f;
            step = step + 1.0f;
            step = step * c0[x];
            step = step + 1.0f;
            c1[x] = c1[x] * step;
            float sq = lv[x] * lv[x];
            sq = lv[x] - sq;
            sq = sq * c0[x];
            lv[x] = lv[x] + sq;
        }
    for (Py_ssize_t x = 0; x < w; x++) {
        float g = c1[x] * c1[x] - 1.0f;
        g = g > 0.0f ? g : 0.0f;
        lv[x] = (amt * sqrtf(var[x])) * sqrtf(g);
    }
}

PyDoc_STRVAR(noise_doc,
"noise(luma, variance, alpha, n_iter, amount, out, r0, r1)\n\n"
"Rows r0:r1 of amount * sqrt(variance) * sqrt(max(g**2 - 1, 0)) into out (H, W) float32: g the slope of\n"
"n_iter steps of the curve whose alpha is the small (h, w) float32 map alpha upsampled bilinearly\n"
"(half-pixel, as skdce.engine.stages.boxes) to (H, W), at the level luma (skdce.video._temporal.noise_map).");

static PyObject *noise(PyObject *self, PyObject *args)
{
    PyObject *lo, *vo, *ao, *oo;
    int n_iter;
    double amount;
    Py_ssize_t r0, r1;
    if (!PyArg_ParseTuple(args, "OOOidOnn", &lo, &vo, &ao, &n_iter, &amount, &oo, &r0, &r1))
        return NULL;
    Py_buffer b[4];
    PyObject *objs[4] = {lo, vo, ao, oo};
    const char *names[4] = {"luma", "variance", "alpha", "out"};
    const int dims[4] = {2, 2, 2, 2};
    if (get_all(objs, b, names, dims, 4, 3) < 0)
        return NULL;
    const Py_ssize_t h = b[0].shape[0], w = b[0].shape[1], hs = b[2].shape[0], ws = b[2].shape[1];
    const char *err = NULL;
    for (int i = 0; i < 4 && err == NULL; i++)
        if (buffer_type(&b[i]) != T_F32)
            err = "noise: luma, variance, alpha and out must be float32";
    if (err == NULL && (b[1].shape[0] != h || b[1].shape[1] != w || b[3].shape[0] != h || b[3].shape[1] != w))
        err = "noise: luma, variance and out must have one shape (H, W)";
    if (err == NULL && (r0 < 0 || r1 > h || r0 > r1 || n_iter < 0))
        err = "noise: rows r0:r1 outside the frame, or negative n_iter";
    if (err == NULL && (skdce_buffers_overlap(&b[3], &b[0]) || skdce_buffers_overlap(&b[3], &b[1])
                        || skdce_buffers_overlap(&b[3], &b[2])))
        err = "noise: out must not share memory with the inputs";
    int nomem = 0;
    if (err == NULL && r1 > r0) {
        char *mem = PyMem_RawMalloc((sizeof(Py_ssize_t) * 2 + sizeof(float)) * (size_t)(w + h) + sizeof(float) * 2
                                    * (size_t)w);
        if (mem == NULL)
            nomem = 1;
        else {
            Py_ssize_t *j0 = (Py_ssize_t *)mem, *j1 = j0 + w, *y0 = j1 + w, *y1 = y0 + h;
            float *wx = (float *)(y1 + h), *wy = wx + w, *c0 = wy + h, *c1 = c0 + w;
            const float *lum = b[0].buf, *var = b[1].buf, *al = b[2].buf;
            float *out = b[3].buf;
            const float amt = (float)amount;
            Py_BEGIN_ALLOW_THREADS
            taps(ws, w, j0, j1, wx);
            taps(hs, h, y0, y1, wy);
            for (Py_ssize_t y = r0; y < r1; y++) {
                const float *ra = al + y0[y] * ws, *rb = al + y1[y] * ws;
                const float fy = y1[y] > y0[y] ? wy[y] : 0.0f;
                for (Py_ssize_t x = 0; x < w; x++) {
                    c0[x] = ra[j0[x]] * (1.0f - wx[x]) + ra[j1[x]] * wx[x];
                    c1[x] = rb[j0[x]] * (1.0f - wx[x]) + rb[j1[x]] * wx[x];
                }
                noise_row(c0, c1, out + y * w, lum + y * w, var + y * w, fy, n_iter, amt, w);
            }
            Py_END_ALLOW_THREADS
            PyMem_RawFree(mem);
        }
    }
    return release_all(b, 4, err, nomem);
}

/* ---------------------------------------------------------------------------------------------------------- */

/* The uniform alphas of skdce.tone.exposure_alphas (at most MAX_STEPS: 4 stops down, 2 up) from a tuple. */
#define MAX_STEPS 8

static int parse_steps(PyObject *tuple, float *a, int *n)
{
    if (!PyTuple_Check(tuple) || PyTuple_GET_SIZE(tuple) > MAX_STEPS) {
        PyErr_SetString(PyExc_ValueError, "steps must be a tuple of at most 8 floats (skdce.tone.exposure_alphas)");
        return -1;
    }
    *n = (int)PyTuple_GET_SIZE(tuple);
    for (int k = 0; k < *n; k++) {
        a[k] = (float)PyFloat_AsDouble(PyTuple_GET_ITEM(tuple, k));
        if (PyErr_Occurred())
            return -1;
    }
    return 0;
}

/* The exposure steps of skdce.tone.finish_tone on one value, its float32 operations in its order:
 * t = 1 - v; t = t * v; t = t * a; v = v + t, for each alpha. */
static inline float exposure_steps(float v, const float *a, int n)
{
    for (int k = 0; k < n; k++) {
        float t = 1.0f - v;
        t = t * v;
        t = t * a[k];
        v = v + t;
    }
    return v;
}

PyDoc_STRVAR(black_doc,
"black(image, scale, shift, steps, out, r0, r1)\n\n"
"Rows r0:r1 of max(image * scale[c] + shift[c], 0) per channel c, image (H, W, 3) float32, then the exposure\n"
"steps v + a v (1 - v) for each alpha a of the tuple steps, clipped to [0, 1] when there are any (the black\n"
"point and the exposure of skdce.tone.finish_tone, one pass): in place where out is None, else into out\n"
"(H, W, 3) uint8 or uint16 as round(v * max) clipped to [0, max] (skdce._base.image.to_uint, half to even).");

static PyObject *black(PyObject *self, PyObject *args)
{
    PyObject *io, *oo, *so;
    double s0, s1, s2, t0, t1, t2;
    Py_ssize_t r0, r1;
    if (!PyArg_ParseTuple(args, "O(ddd)(ddd)OOnn", &io, &s0, &s1, &s2, &t0, &t1, &t2, &so, &oo, &r0, &r1))
        return NULL;
    float steps[MAX_STEPS];
    int n_steps;
    if (parse_steps(so, steps, &n_steps) < 0)
        return NULL;
    Py_buffer im, o;
    if (get(io, &im, "image", 3, oo == Py_None) < 0)
        return NULL;
    int ot = -1;
    if (oo != Py_None) {
        if (get(oo, &o, "out", 3, 1) < 0) {
            PyBuffer_Release(&im);
            return NULL;
        }
        ot = buffer_type(&o);
    }
    const Py_ssize_t h = im.shape[0], w = im.shape[1];
    const char *err = NULL;
    if (buffer_type(&im) != T_F32 || im.shape[2] != 3)
        err = "black: image must be (H, W, 3) float32";
    else if (oo != Py_None && ((ot != T_U8 && ot != T_U16) || o.shape[0] != h || o.shape[1] != w || o.shape[2] != 3))
        err = "black: out must be None or (H, W, 3) uint8 or uint16 like image";
    else if (oo != Py_None && skdce_buffers_overlap(&im, &o))
        err = "black: out must not share memory with image";
    else if (r0 < 0 || r1 > h || r0 > r1)
        err = "black: rows r0:r1 outside the image";
    if (err == NULL) {
        const float sc[3] = {(float)s0, (float)s1, (float)s2}, sh[3] = {(float)t0, (float)t1, (float)t2};
        float *restrict y = (float *)im.buf + 3 * r0 * w;
        const Py_ssize_t n = 3 * (r1 - r0) * w;
        Py_BEGIN_ALLOW_THREADS
        if (ot < 0 && n_steps == 0) {
            for (Py_ssize_t i = 0; i < n; i += 3)
                for (int c = 0; c < 3; c++) {
                    float v = y[i + c] * sc[c];
                    v = v + sh[c];
                    y[i + c] = v > 0.0f ? v : 0.0f;
                }
        } else if (ot < 0) {
            for (Py_ssize_t i = 0; i < n; i += 3)
                for (int c = 0; c < 3; c++) {
                    float v = y[i + c] * sc[c];
                    v = v + sh[c];
                    v = exposure_steps(v > 0.0f ? v : 0.0f, steps, n_steps);
                    y[i + c] = v < 0.0f ? 0.0f : (v > 1.0f ? 1.0f : v);
                }
        } else {
            const float top = ot == T_U8 ? 255.0f : 65535.0f;
            for (Py_ssize_t i = 0; i < n; i += 3)
                for (int c = 0; c < 3; c++) {
                    float v = y[i + c] * sc[c];
                    v = v + sh[c];
                    v = exposure_steps(v > 0.0f ? v : 0.0f, steps, n_steps);
                    v = v > 0.0f ? v : 0.0f;
                    v = v < 1.0f ? v : 1.0f;
                    v = rintf(v * top);
                    v = v < top ? v : top;
                    if (ot == T_U8)
                        ((uint8_t *)o.buf)[3 * r0 * w + i + c] = (uint8_t)v;
                    else
                        ((uint16_t *)o.buf)[3 * r0 * w + i + c] = (uint16_t)v;
                }
        }
        Py_END_ALLOW_THREADS
    }
    PyBuffer_Release(&im);
    if (oo != Py_None)
        PyBuffer_Release(&o);
    if (err != NULL) {
        PyErr_SetString(PyExc_ValueError, err);
        return NULL;
    }
    Py_RETURN_NONE;
}

/* ---------------------------------------------------------------------------------------------------------- */

/* One row of the black point and the exposure steps, clipped to [0, 1]: min(max(y * scale[c] + shift[c], 0), 1)
 * (the float32 steps of black(); the clip at 1 is to_uint's, before the rounding instead of after it), then
 * exposure_steps and the clip again where there are steps. */
ROW_KERNEL static void black_row(const float *restrict y, const float *restrict sc, const float *restrict sh,
                      float *restrict o, Py_ssize_t w, const float *restrict a, int n)
{
    /* planar out: o[c * w + j] (the loops after it then read contiguous streams and vectorise) */
    for (int c = 0; c < 3; c++)
        for (Py_ssize_t j = 0; j < w; j++) {
            float v = y[3 * j + c] * sc[c];
            v = v + sh[c];
            v = v > 0.0f ? v : 0.0f;
            o[c * w + j] = v < 1.0f ? v : 1.0f;
        }
    if (n > 0)
        for (Py_ssize_t j = 0; j < 3 * w; j++) {
            const float v = exposure_steps(o[j], a, n);
            o[j] = v < 0.0f ? 0.0f : (v > 1.0f ? 1.0f : v);
        }
}

/* v rounded half to even and clipped to [0, 255]: rintf's result in the default rounding mode, by adding and
 * subtracting 1.5 * 2**23 (which leaves no fraction bits to a float32 of that size), so the loops vectorise
 * on any x86-64 (rintf itself needs SSE4.1's roundps). */
static inline uint8_t to_u8(float v)
{
    v = v < 0.0f ? 0.0f : (v > 255.0f ? 255.0f : v);
    v = (v + 12582912.0f) - 12582912.0f;
    return (uint8_t)(int)v;
}

/* The loops of yuv420, each its own function (not inlined: in yuv420's loop nest the vectoriser gave up on
 * them, 1.7x slower). One luma row from planar RGB rows: Y = y0 + ys * (kr R + kg G + kb B),
 * k = (kr, kg, kb, y0, ys). */
ROW_KERNEL static void y_row(const float *restrict r, const float *restrict g, const float *restrict b,
                             uint8_t *restrict y,
                  Py_ssize_t w, const float *k)
{
    const float kr = k[0], kg = k[1], kb = k[2], y0 = k[3], ys = k[4];
    for (Py_ssize_t j = 0; j < w; j++)
        y[j] = to_u8(y0 + ys * (kr * r[j] + kg * g[j] + kb * b[j]));
}

/* The four rows of a chroma row weighted 1, 3, 3, 1. */
ROW_KERNEL static void rows_1331(const float *restrict a, const float *restrict b, const float *restrict c,
                      const float *restrict d, float *restrict o, Py_ssize_t n)
{
    for (Py_ssize_t j = 0; j < n; j++)
        o[j] = (a[j] + 3.0f * b[j]) + (3.0f * c[j] + d[j]);
}

/* One row of U and V from the 1-3-3-1 sums of planar RGB rows, the two columns of each sample added (the sum of
 * 16 weights); k = (kr, kg, kb, fu, fv). */
ROW_KERNEL static void uv_row(const float *restrict r, const float *restrict g, const float *restrict b,
                              uint8_t *restrict u,
                   uint8_t *restrict v, Py_ssize_t w2, const float *k)
{
    const float kr = k[0], kg = k[1], kb = k[2], fu = k[3], fv = k[4];
    for (Py_ssize_t j = 0; j < w2; j++) {
        const float mr = (r[2 * j] + r[2 * j + 1]) * (1.0f / 16.0f);
        const float mg = (g[2 * j] + g[2 * j + 1]) * (1.0f / 16.0f);
        const float mb = (b[2 * j] + b[2 * j + 1]) * (1.0f / 16.0f);
        const float e = kr * mr + kg * mg + kb * mb;
        u[j] = to_u8(128.0f + fu * (mb - e));
        v[j] = to_u8(128.0f + fv * (mr - e));
    }
}

PyDoc_STRVAR(yuv420_doc,
"yuv420(image, scale, shift, steps, matrix, out, r0, r1)\n\n"
"The black point and exposure steps of black() and the conversion to 8-bit YUV 4:2:0 in one pass: rows r0:r1 (even) of the\n"
"luma plane and rows r0/2:r1/2 of the chroma planes of out ((3 H / 2, W) uint8: Y (H, W), then U and V\n"
"(H/2, W/2), the layout of PyAV's yuv420p arrays), from image (H, W, 3) float32 RGB, H and W even. Each\n"
"value v = min(max(image * scale[c] + shift[c], 0), 1); matrix = (kr, kb, y0, ys, cs): Y = y0 + ys * E,\n"
"E = kr R + (1 - kr - kb) G + kb B; U = 128 + cs * (B - E) / (2 (1 - kb)), V = 128 + cs * (R - E) / (2 (1 - kr))\n"
"of the RGB averaged over the two columns and, with weights 1, 3, 3, 1 (/ 8), the rows 2i - 1 to 2i + 2 of\n"
"chroma row i (clamped at the edges): FFmpeg's swscale's 4:2:0 downsampling; rounded half to even.");

static PyObject *yuv420(PyObject *self, PyObject *args)
{
    PyObject *io, *oo, *so;
    double s0, s1, s2, t0, t1, t2, kr, kb, y0, ys, cs;
    Py_ssize_t r0, r1;
    if (!PyArg_ParseTuple(args, "O(ddd)(ddd)O(ddddd)Onn", &io, &s0, &s1, &s2, &t0, &t1, &t2, &so, &kr, &kb, &y0, &ys,
                          &cs, &oo, &r0, &r1))
        return NULL;
    float steps[MAX_STEPS];
    int n_steps;
    if (parse_steps(so, steps, &n_steps) < 0)
        return NULL;
    Py_buffer b[2];
    PyObject *objs[2] = {io, oo};
    const char *names[2] = {"image", "out"};
    const int dims[2] = {3, 2};
    if (get_all(objs, b, names, dims, 2, 1) < 0)
        return NULL;
    const Py_ssize_t h = b[0].shape[0], w = b[0].shape[1];
    const char *err = NULL;
    if (buffer_type(&b[0]) != T_F32 || b[0].shape[2] != 3 || h % 2 || w % 2)
        err = "yuv420: image must be (H, W, 3) float32, H and W even";
    else if (buffer_type(&b[1]) != T_U8 || b[1].shape[0] != 3 * h / 2 || b[1].shape[1] != w)
        err = "yuv420: out must be (3 H / 2, W) uint8";
    else if (skdce_buffers_overlap(&b[0], &b[1]))
        err = "yuv420: out must not share memory with image";
    else if (r0 < 0 || r1 > h || r0 > r1 || r0 % 2 || r1 % 2)
        err = "yuv420: rows r0:r1 outside the image or not even";
    int nomem = 0;
    if (err == NULL && r1 > r0) {
        float *mem = PyMem_RawMalloc(sizeof(float) * (size_t)(15 * w));
        if (mem == NULL)
            nomem = 1;
        else {
            const float sc[3] = {(float)s0, (float)s1, (float)s2}, sh[3] = {(float)t0, (float)t1, (float)t2};
            float *pair = mem + 12 * w;
            const float fr = (float)kr, fb = (float)kb, fg = (float)(1.0 - kr - kb);
            const float ky[5] = {fr, fg, fb, (float)y0, (float)ys};
            const float kc[5] = {fr, fg, fb, (float)(cs / (2.0 * (1.0 - kb))), (float)(cs / (2.0 * (1.0 - kr)))};
            const float *image = b[0].buf;
            uint8_t *Y = b[1].buf, *U = (uint8_t *)b[1].buf + h * w, *V = U + h * w / 4;
            Py_BEGIN_ALLOW_THREADS
            /* rows 2i - 1 .. 2i + 2 (clamped) of chroma row i, a ring of four: each row computed once */
            float *row[4] = {mem, mem + 3 * w, mem + 6 * w, mem + 9 * w};
            black_row(image + 3 * w * clampi(r0 - 1, h), sc, sh, row[2], w, steps, n_steps);
            black_row(image + 3 * w * clampi(r0, h), sc, sh, row[3], w, steps, n_steps);
            for (Py_ssize_t i = r0 / 2; i < r1 / 2; i++) {
                float *t0_ = row[0], *t1_ = row[1];
                row[0] = row[2], row[1] = row[3], row[2] = t0_, row[3] = t1_;
                black_row(image + 3 * w * clampi(2 * i + 1, h), sc, sh, row[2], w, steps, n_steps);
                black_row(image + 3 * w * clampi(2 * i + 2, h), sc, sh, row[3], w, steps, n_steps);
                for (int k = 1; k <= 2; k++)
                    y_row(row[k], row[k] + w, row[k] + 2 * w, Y + (2 * i + k - 1) * w, w, ky);
                rows_1331(row[0], row[1], row[2], row[3], pair, 3 * w);
                uv_row(pair, pair + w, pair + 2 * w, U + i * (w / 2), V + i * (w / 2), w / 2, kc);
            }
            Py_END_ALLOW_THREADS
            PyMem_RawFree(mem);
        }
    }
    return release_all(b, 2, err, nomem);
}

/* ---------------------------------------------------------------------------------------------------------- */

/* The loops of guided_half, each its own function over whole rows (not inlined: the vectoriser handles them
 * alone, not in the loop nests around them). */
#define NOINLINE ROW_KERNEL static void

NOINLINE add_to(float *restrict t, const float *restrict a, Py_ssize_t n)
{
    for (Py_ssize_t x = 0; x < n; x++)
        t[x] += a[x];
}

NOINLINE scale_to(float *restrict o, const float *restrict a, float s, Py_ssize_t n)
{
    for (Py_ssize_t x = 0; x < n; x++)
        o[x] = a[x] * s;
}

NOINLINE sum3_to(float *restrict t, const float *restrict a, const float *restrict b, const float *restrict c,
                 Py_ssize_t n)
{
    for (Py_ssize_t x = 0; x < n; x++)
        t[x] = (a[x] + b[x]) + c[x];
}

/* The window means of radius 1 along a row, the edges reflected (w >= 2). */
NOINLINE means3(float *restrict o, const float *restrict t, float inv, Py_ssize_t w)
{
    o[0] = ((t[0] + t[0]) + t[1]) * inv;
    for (Py_ssize_t x = 1; x < w - 1; x++)
        o[x] = ((t[x - 1] + t[x]) + t[x + 1]) * inv;
    o[w - 1] = ((t[w - 2] + t[w - 1]) + t[w - 1]) * inv;
}

/* The mean over the (2r + 1)-square window of each value of an (h, w) plane (edges reflected: scipy's mode
 * "reflect"), into out (which may be in): the sums down the columns into tmp (h w), then the means along each
 * row. Radius 1 (the radii of guided_half) in two streaming loops; other radii term by term (row: w). */
static void box_plane(const float *in, float *out, Py_ssize_t h, Py_ssize_t w, int r, float *row, float *tmp)
{
    if (r == 0) {
        if (out != in)
            memcpy(out, in, sizeof(float) * (size_t)(h * w));
        return;
    }
    const float inv = 1.0f / (float)((2 * r + 1) * (2 * r + 1));  /* the sums of both passes divided at the end */
    for (Py_ssize_t y = 0; y < h; y++) {
        float *t = tmp + y * w;
        if (r == 1) {
            sum3_to(t, in + skdce_reflect(y - 1, h) * w, in + y * w, in + skdce_reflect(y + 1, h) * w, w);
            continue;
        }
        memcpy(t, in + skdce_reflect(y - r, h) * w, sizeof(float) * (size_t)w);
        for (int k = -r + 1; k <= r; k++)
            add_to(t, in + skdce_reflect(y + k, h) * w, w);
    }
    for (Py_ssize_t y = 0; y < h; y++) {
        const float *t = tmp + y * w;
        float *o = out + y * w;
        if (r == 1 && w >= 2) {
            means3(o, t, inv, w);
            continue;
        }
        for (Py_ssize_t x = 0; x < w; x++) {
            float sum = 0.0f;
            for (int k = -r; k <= r; k++)
                sum += t[skdce_reflect(x + k, w)];
            row[x] = sum;
        }
        scale_to(o, row, inv, w);
    }
}

/* Row Y of the (2h, 2w) bilinear (half-pixel centres, edges clamped) upsampling of the (h, w) plane p, into o
 * (2w); t (w) is scratch. Full row 2i lies a quarter of a row above half row i, 2i + 1 a quarter below it. */
NOINLINE blend_rows(float *restrict t, const float *restrict a, const float *restrict b, Py_ssize_t n)
{
    for (Py_ssize_t x = 0; x < n; x++)
        t[x] = 0.75f * a[x] + 0.25f * b[x];
}

NOINLINE up_cols(float *restrict o, const float *restrict t, Py_ssize_t w)
{
    o[0] = t[0];
    for (Py_ssize_t x = 1; x < w; x++) {
        o[2 * x - 1] = 0.75f * t[x - 1] + 0.25f * t[x];
        o[2 * x] = 0.25f * t[x - 1] + 0.75f * t[x];
    }
    o[2 * w - 1] = t[w - 1];
}

static void up_row(const float *p, Py_ssize_t h, Py_ssize_t w, Py_ssize_t Y, float *t, float *o)
{
    const Py_ssize_t i = Y >> 1;
    const Py_ssize_t far = (Y & 1) ? (i + 1 < h ? i + 1 : h - 1) : (i > 0 ? i - 1 : 0);
    blend_rows(t, p + i * w, p + far * w, w);
    up_cols(o, t, w);
}

/* A row of (r, g, b) pixels as three planar rows and their mean ((r + g) + b) / 3. */
NOINLINE planar_row(const float *restrict px, float *restrict r, float *restrict g, float *restrict b,
                    float *restrict l, Py_ssize_t n)
{
    const float third = 1.0f / 3.0f;
    for (Py_ssize_t x = 0; x < n; x++) {
        const float a = px[3 * x], c = px[3 * x + 1], d = px[3 * x + 2];
        r[x] = a, g[x] = c, b[x] = d;
        l[x] = ((a + c) + d) * third;
    }
}

/* The 2x2 means of rows a, b (w2 of them), of their squares, of the products of two pairs of rows. */
NOINLINE down_rows(float *restrict o, const float *restrict a, const float *restrict b, Py_ssize_t w2)
{
    for (Py_ssize_t j = 0; j < w2; j++)
        o[j] = 0.25f * ((a[2 * j] + a[2 * j + 1]) + (b[2 * j] + b[2 * j + 1]));
}

NOINLINE down_rows_sq(float *restrict o, const float *restrict a, const float *restrict b, Py_ssize_t w2)
{
    for (Py_ssize_t j = 0; j < w2; j++)
        o[j] = 0.25f * ((a[2 * j] * a[2 * j] + a[2 * j + 1] * a[2 * j + 1])
                        + (b[2 * j] * b[2 * j] + b[2 * j + 1] * b[2 * j + 1]));
}

NOINLINE down_rows_prod(float *restrict o, const float *restrict a, const float *restrict p,
                        const float *restrict b, const float *restrict q, Py_ssize_t w2)
{
    for (Py_ssize_t j = 0; j < w2; j++)
        o[j] = 0.25f * ((a[2 * j] * p[2 * j] + a[2 * j + 1] * p[2 * j + 1])
                        + (b[2 * j] * q[2 * j] + b[2 * j + 1] * q[2 * j + 1]));
}

/* o = a * x + b, and the difference of two rows. */
NOINLINE affine_row(float *restrict o, const float *restrict a, const float *restrict x, const float *restrict b,
                    Py_ssize_t n)
{
    for (Py_ssize_t i = 0; i < n; i++)
        o[i] = a[i] * x[i] + b[i];
}

NOINLINE sub_row(float *restrict o, const float *restrict a, const float *restrict b, Py_ssize_t n)
{
    for (Py_ssize_t i = 0; i < n; i++)
        o[i] = a[i] - b[i];
}

/* Stage 1 at half resolution: m, q the window means of the luma and its square; a, b its coefficients. */
NOINLINE luma_coefs(float *restrict a, float *restrict b, const float *restrict m, const float *restrict q,
                    const float *restrict vn, float eps, Py_ssize_t n)
{
    for (Py_ssize_t k = 0; k < n; k++) {
        const float v = q[k] - m[k] * m[k];
        const float s = v / (v + eps * vn[k] + 1e-12f);
        a[k] = s, b[k] = m[k] - s * m[k];
    }
}

/* Stage 2: q becomes the regularised variance of the guide (mg its window mean), then the coefficients of one
 * colour from its window mean mp and that of its product with the guide, cp. */
NOINLINE guide_var(float *restrict q, const float *restrict mg, const float *restrict vn, float eps, Py_ssize_t n)
{
    for (Py_ssize_t k = 0; k < n; k++)
        q[k] = q[k] - mg[k] * mg[k] + eps * vn[k] + 1e-12f;
}

NOINLINE color_coefs(float *restrict a, float *restrict b, const float *restrict cp, const float *restrict mg,
                     const float *restrict mp, const float *restrict vg, Py_ssize_t n)
{
    for (Py_ssize_t k = 0; k < n; k++) {
        const float s = (cp[k] - mg[k] * mp[k]) / vg[k];
        a[k] = s, b[k] = mp[k] - s * mg[k];
    }
}

/* The output of one colour: fit + rest * power / (power + keep * noise**2), clipped to [0, 1]. */
NOINLINE wiener_row(float *restrict o, const float *restrict fit, const float *restrict p, const float *restrict pw,
                  const float *restrict nz, float keep, Py_ssize_t n)
{
    for (Py_ssize_t x = 0; x < n; x++) {
        const float rest = p[x] - fit[x];
        float v = fit[x] + rest * (pw[x] / (pw[x] + keep * (nz[x] * nz[x]) + 1e-12f));
        v = v > 0.0f ? v : 0.0f;
        o[x] = v < 1.0f ? v : 1.0f;
    }
}

NOINLINE interleave_row(float *restrict px, const float *restrict r, const float *restrict g,
                        const float *restrict b, Py_ssize_t n)
{
    for (Py_ssize_t x = 0; x < n; x++)
        px[3 * x] = r[x], px[3 * x + 1] = g[x], px[3 * x + 2] = b[x];
}

PyDoc_STRVAR(guided_half_doc,
"guided_half(y, noise, out, scratch, luma_radius, color_radius, luma_eps, color_eps, color_keep)\n\n"
"The two-stage guided filter of skdce.engine.stages.guided (denoise_block) as a fast guided filter (He and\n"
"Sun 2015): its linear coefficients computed at half resolution from the 2x2 means of the moments, over\n"
"windows of the given radii there, and upsampled bilinearly to weigh the full-resolution guide; the power\n"
"of the colour residual likewise. y (H, W, 3) float32 with H and W even, noise (H, W) float32 (a standard\n"
"deviation), out (H, W, 3) float32 (y itself: in place), scratch a float32 array of at least\n"
"guided_half_scratch(H, W, radii) values, reused from frame to frame (skdce.video._temporal.guided_half;\n"
"its NumPy twin is the oracle).");

/* The floats of guided_half's scratch: 23 half-resolution planes (22 and one of box scratch) and 25 rows. */
static Py_ssize_t scratch_size(Py_ssize_t H, Py_ssize_t W, int R)
{
    const Py_ssize_t n = (H / 2) * (W / 2);
    return 23 * n + 25 * W + 2 * R + 8;
}

static PyObject *guided_half_scratch(PyObject *self, PyObject *args)
{
    Py_ssize_t H, W;
    int r1, r2;
    if (!PyArg_ParseTuple(args, "nnii", &H, &W, &r1, &r2))
        return NULL;
    return PyLong_FromSsize_t(scratch_size(H, W, r1 > r2 ? r1 : r2));
}

static PyObject *guided_half(PyObject *self, PyObject *args)
{
    PyObject *yo, *no, *oo, *so;
    int r1, r2;
    double luma_eps, color_eps, color_keep;
    if (!PyArg_ParseTuple(args, "OOOOiiddd", &yo, &no, &oo, &so, &r1, &r2, &luma_eps, &color_eps, &color_keep))
        return NULL;
    Py_buffer b[4];
    PyObject *objs[4] = {yo, no, oo, so};
    const char *names[4] = {"y", "noise", "out", "scratch"};
    const int dims[4] = {3, 2, 3, 1};
    if (get_all(objs, b, names, dims, 4, 2) < 0)
        return NULL;
    const Py_ssize_t H = b[0].shape[0], W = b[0].shape[1], h = H / 2, w = W / 2, n = h * w;
    const char *err = NULL;
    if (buffer_type(&b[0]) != T_F32 || b[0].shape[2] != 3 || H % 2 || W % 2)
        err = "guided_half: y must be (H, W, 3) float32, H and W even";
    else if (buffer_type(&b[1]) != T_F32 || b[1].shape[0] != H || b[1].shape[1] != W)
        err = "guided_half: noise must be (H, W) float32 like y";
    else if (buffer_type(&b[2]) != T_F32 || b[2].shape[0] != H || b[2].shape[1] != W || b[2].shape[2] != 3)
        err = "guided_half: out must be (H, W, 3) float32 like y";
    else if (r1 < 0 || r2 < 0 || r1 > 64 || r2 > 64)
        err = "guided_half: radii must lie in [0, 64]";
    else if (buffer_type(&b[3]) != T_F32 || b[3].shape[0] < scratch_size(H, W, r1 > r2 ? r1 : r2))
        err = "guided_half: scratch must be float32 of guided_half_scratch(H, W, radii) values";
    /* out may be y itself (y is read only in the first pass, into scratch), not a part of it */
    if (err == NULL && skdce_buffers_overlap(&b[2], &b[0]) && b[2].buf != b[0].buf)
        err = "guided_half: out must be y or not share memory with it";
    for (int i = 2; i < 4 && err == NULL; i++)
        for (int j = 1; j < 4; j++)
            if (j != i && skdce_buffers_overlap(&b[i], &b[j]))
                err = "guided_half: out and scratch must not share memory with each other, noise or y";
    if (err == NULL) {
        const float *Y = b[0].buf, *N = b[1].buf;
        float *O = b[2].buf, *mem = b[3].buf;
        const float le = (float)luma_eps, ce = (float)color_eps, ck = (float)color_keep;
        Py_BEGIN_ALLOW_THREADS
        /* half resolution: 0 lm, 1 l2, 2 vn, 3-5 pm, 6 A1, 7 B1, 8 g, 9 g2, 10-12 gp, 13-15 A, 16-18 B, 19-21 pw,
         * 22 box scratch. Full resolution, rows only (each pass reads y again: the full-resolution planes that
         * passed between the passes made the filter memory-bound): for each of two rows, the colours and the luma
         * (4 rows), the guide, the fit of each colour (3); rows of upsampled coefficients, scratch. */
        float *P[23];
        for (int k = 0; k < 23; k++)
            P[k] = mem + k * n;
        float *R = mem + 23 * n;
        float *C[2][3], *L[2], *G[2], *fit[2][3];
        for (int k = 0; k < 2; k++) {
            float *base = R + k * 8 * W;
            C[k][0] = base, C[k][1] = base + W, C[k][2] = base + 2 * W, L[k] = base + 3 * W, G[k] = base + 4 * W;
            fit[k][0] = base + 5 * W, fit[k][1] = base + 6 * W, fit[k][2] = base + 7 * W;
        }
        float *ua = R + 16 * W, *ub = R + 17 * W, *t = R + 18 * W, *rowb = R + 19 * W, *e0 = R + 20 * W;
        float *e1 = R + 21 * W, *o3[3] = {R + 22 * W, R + 23 * W, R + 24 * W};
        float *lm = P[0], *l2 = P[1], *vn = P[2], *pm = P[3], *A1 = P[6], *B1 = P[7], *g = P[8], *g2 = P[9];
        float *gp = P[10], *A = P[13], *B = P[16], *pw = P[19], *scr = P[22];
#define PLANAR(k, yy) planar_row(Y + 3 * (yy) * W, C[k][0], C[k][1], C[k][2], L[k], W)
#define GUIDE(k, yy)                                                                                            \
        do {                                                                                                    \
            up_row(A1, h, w, (yy), t, ua);                                                                      \
            up_row(B1, h, w, (yy), t, ub);                                                                      \
            affine_row(G[k], ua, L[k], ub, W);                                                                  \
        } while (0)
#define FIT(k, yy)                                                                                              \
        do {                                                                                                    \
            for (int c = 0; c < 3; c++) {                                                                       \
                up_row(A + c * n, h, w, (yy), t, ua);                                                           \
                up_row(B + c * n, h, w, (yy), t, ub);                                                           \
                affine_row(fit[k][c], ua, G[k], ub, W);                                                         \
            }                                                                                                   \
        } while (0)
        /* A: the 2x2 means of the luma, its square, the noise variance and the colours */
        for (Py_ssize_t i = 0; i < h; i++) {
            PLANAR(0, 2 * i);
            PLANAR(1, 2 * i + 1);
            down_rows(lm + i * w, L[0], L[1], w);
            down_rows_sq(l2 + i * w, L[0], L[1], w);
            down_rows_sq(vn + i * w, N + 2 * i * W, N + (2 * i + 1) * W, w);
            for (int c = 0; c < 3; c++)
                down_rows(pm + c * n + i * w, C[0][c], C[1][c], w);
        }
        /* stage 1 at half resolution: the self-guided luma's coefficients, their window means */
        box_plane(lm, lm, h, w, r1, rowb, scr);
        box_plane(l2, l2, h, w, r1, rowb, scr);
        luma_coefs(A1, B1, lm, l2, vn, le, n);
        box_plane(A1, A1, h, w, r1, rowb, scr);
        box_plane(B1, B1, h, w, r1, rowb, scr);
        /* B: the guide at full resolution; the 2x2 means of it, its square, its products with the colours */
        for (Py_ssize_t i = 0; i < h; i++) {
            for (int k = 0; k < 2; k++) {
                PLANAR(k, 2 * i + k);
                GUIDE(k, 2 * i + k);
            }
            down_rows(g + i * w, G[0], G[1], w);
            down_rows_sq(g2 + i * w, G[0], G[1], w);
            for (int c = 0; c < 3; c++)
                down_rows_prod(gp + c * n + i * w, G[0], C[0][c], G[1], C[1][c], w);
        }
        /* stage 2 at half resolution: each colour as an affine function of the guide */
        box_plane(g, g, h, w, r2, rowb, scr);
        box_plane(g2, g2, h, w, r2, rowb, scr);
        guide_var(g2, g, vn, ce, n);
        for (int c = 0; c < 3; c++) {
            box_plane(pm + c * n, pm + c * n, h, w, r2, rowb, scr);
            box_plane(gp + c * n, gp + c * n, h, w, r2, rowb, scr);
            color_coefs(A + c * n, B + c * n, gp + c * n, g, pm + c * n, g2, n);
            box_plane(A + c * n, A + c * n, h, w, r2, rowb, scr);
            box_plane(B + c * n, B + c * n, h, w, r2, rowb, scr);
        }
        /* C: the fit at full resolution; the 2x2 means of the square of what it leaves */
        for (Py_ssize_t i = 0; i < h; i++) {
            for (int k = 0; k < 2; k++) {
                PLANAR(k, 2 * i + k);
                GUIDE(k, 2 * i + k);
                FIT(k, 2 * i + k);
            }
            for (int c = 0; c < 3; c++) {
                sub_row(e0, C[0][c], fit[0][c], W);
                sub_row(e1, C[1][c], fit[1][c], W);
                down_rows_sq(pw + c * n + i * w, e0, e1, w);
            }
        }
        for (int c = 0; c < 3; c++)
            box_plane(pw + c * n, pw + c * n, h, w, r2, rowb, scr);
        /* D: what the fit leaves, kept in proportion power / (power + color_keep * noise variance); row y of out is
         * written after row y of y is read (out may be y) */
        for (Py_ssize_t y = 0; y < H; y++) {
            PLANAR(0, y);
            GUIDE(0, y);
            FIT(0, y);
            for (int c = 0; c < 3; c++) {
                up_row(pw + c * n, h, w, y, t, ua);
                wiener_row(o3[c], fit[0][c], C[0][c], ua, N + y * W, ck, W);
            }
            interleave_row(O + 3 * y * W, o3[0], o3[1], o3[2], W);
        }
#undef PLANAR
#undef GUIDE
#undef FIT
        Py_END_ALLOW_THREADS
    }
    return release_all(b, 4, err, 0);
}

/* ---------------------------------------------------------------------------------------------------------- */

ROW_KERNEL static void add_row_double(double *restrict acc, const float *restrict row, Py_ssize_t n)
{
    for (Py_ssize_t x = 0; x < n; x++)
        acc[x] += (double)row[x];
}

PyDoc_STRVAR(shrink_doc,
"shrink(plane, factor, out)\n\n"
"The means of the factor x factor blocks of plane (H, W) float32 into out (H // factor, W // factor)\n"
"float32 (the rows and columns past the last whole block are left out); sums in double.");

static PyObject *shrink(PyObject *self, PyObject *args)
{
    PyObject *po, *oo;
    Py_ssize_t f;
    if (!PyArg_ParseTuple(args, "OnO", &po, &f, &oo))
        return NULL;
    Py_buffer p, o;
    if (get(po, &p, "plane", 2, 0) < 0)
        return NULL;
    if (get(oo, &o, "out", 2, 1) < 0) {
        PyBuffer_Release(&p);
        return NULL;
    }
    const Py_ssize_t w = p.shape[1], hs = o.shape[0], ws = o.shape[1];
    const char *err = NULL;
    if (buffer_type(&p) != T_F32 || buffer_type(&o) != T_F32 || f < 1 || hs != p.shape[0] / f || ws != w / f)
        err = "shrink: plane and out must be float32, out of shape (H // factor, W // factor)";
    else if (skdce_buffers_overlap(&p, &o))
        err = "shrink: out must not share memory with plane";
    if (err == NULL) {
        const float *src = p.buf;
        float *dst = o.buf;
        double *acc = PyMem_RawCalloc((size_t)(ws * f), sizeof(double));
        if (acc != NULL) {
            Py_BEGIN_ALLOW_THREADS
            const double norm = 1.0 / (double)(f * f);
            for (Py_ssize_t i = 0; i < hs; i++) {
                /* the f rows summed down the columns (one vectorised stream a row), then each block's f sums */
                memset(acc, 0, sizeof(double) * (size_t)(ws * f));
                for (Py_ssize_t r = i * f; r < (i + 1) * f; r++)
                    add_row_double(acc, src + r * w, ws * f);
                for (Py_ssize_t j = 0; j < ws; j++) {
                    double a = 0.0;
                    for (Py_ssize_t k = 0; k < f; k++)
                        a += acc[j * f + k];
                    dst[i * ws + j] = (float)(a * norm);
                }
            }
            Py_END_ALLOW_THREADS
            PyMem_RawFree(acc);
        } else
            err = "";
    }
    PyBuffer_Release(&p);
    PyBuffer_Release(&o);
    if (err != NULL) {
        if (*err)
            PyErr_SetString(PyExc_ValueError, err);
        else
            PyErr_NoMemory();
        return NULL;
    }
    Py_RETURN_NONE;
}

static PyMethodDef methods[] = {
    {"luma", luma, METH_VARARGS, luma_doc},
    {"weigh", weigh, METH_VARARGS, weigh_doc},
    {"accumulate", accumulate, METH_VARARGS, accumulate_doc},
    {"noise", noise, METH_VARARGS, noise_doc},
    {"black", black, METH_VARARGS, black_doc},
    {"yuv420", yuv420, METH_VARARGS, yuv420_doc},
    {"guided_half", guided_half, METH_VARARGS, guided_half_doc},
    {"guided_half_scratch", guided_half_scratch, METH_VARARGS,
     "guided_half_scratch(H, W, luma_radius, color_radius): the float32 values of guided_half's scratch."},
    {"shrink", shrink, METH_VARARGS, shrink_doc},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_temporal", "Compiled temporal filter of skdce.video (internal).", -1, methods,
};

PyMODINIT_FUNC PyInit__temporal(void)
{
    return PyModule_Create(&module);
}
