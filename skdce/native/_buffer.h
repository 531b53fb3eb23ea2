/*
 * skdce/native/_buffer.h: the buffer-protocol checks shared by
 * skdce.native._kernels and skdce.native._gfilter, in one place.
 *
 * Both extensions read NumPy arrays through the buffer protocol and must not
 * touch memory a buffer does not describe, nor write where they read. The
 * checks that take are here, as static inline predicates on a Py_buffer:
 *
 *   skdce_get_buffer         get a buffer, telling "read-only" from "no buffer"
 *   skdce_buffer_type        the element type of a buffer's format and item size
 *   skdce_buffer_aligned     the first element on a multiple of the item size
 *   skdce_buffer_whole_strides  no negative size, every stride a whole number of items
 *   skdce_buffer_extent      the bytes a (strided) buffer's elements occupy
 *   skdce_buffers_overlap    whether two buffers' extents share a byte
 *   skdce_buffer_self_overlaps  whether two elements of one buffer share memory
 *                            (a broadcast view, a zero or overlapping stride)
 *
 * Only skdce_get_buffer touches the Python error state; every other function
 * is a pure predicate and each module raises its own message, so the messages
 * stay with the entry points that document them.
 *
 * Also the one index rule the filters share:
 *
 *   skdce_reflect            scipy's mode="reflect" edges (d c b a | a b c d)
 *
 * Include after <Python.h> (with PY_SSIZE_T_CLEAN defined).
 */
#ifndef SKDCE_BUFFER_H
#define SKDCE_BUFFER_H

#include <stdint.h>

/* Element types, by code: the index of skdce_type_size and of a bit in a type set (1 << code). */
enum { SKDCE_U8 = 0, SKDCE_U16 = 1, SKDCE_F32 = 2, SKDCE_F64 = 3, SKDCE_I64 = 4 };
static const int skdce_type_size[] = {1, 2, 4, 8, 8};  /* bytes per element, by type code */

/* The type code of a buffer's format: one item in native byte order ('@', '=',
 * or the explicit marker of this machine's order, or none), of a size that
 * matches the code: unsigned 1 or 2 bytes, signed 8 bytes, float, double.
 * Returns -1 for any other format. A missing format means 'B' (unsigned bytes). */
static inline int skdce_buffer_type(const Py_buffer *v)
{
    const char *f = v->format != NULL ? v->format : "B";
    if (*f == '@' || *f == '=')
        f++;
#if PY_LITTLE_ENDIAN
    else if (*f == '<')
        f++;
#else
    else if (*f == '>' || *f == '!')
        f++;
#endif
    if (f[0] == '\0' || f[1] != '\0')
        return -1;
    switch (f[0]) {
    case 'B': case 'H': case 'I': case 'L': case 'Q':
        return v->itemsize == 1 ? SKDCE_U8 : v->itemsize == 2 ? SKDCE_U16 : -1;
    case 'b': case 'h': case 'i': case 'l': case 'q':
        return v->itemsize == 8 ? SKDCE_I64 : -1;
    case 'f':
        return v->itemsize == 4 ? SKDCE_F32 : -1;
    case 'd':
        return v->itemsize == 8 ? SKDCE_F64 : -1;
    default:
        return -1;
    }
}

/* What skdce_get_buffer found when it could not hand out the buffer. */
enum { SKDCE_BUF_OK = 0, SKDCE_BUF_REFUSED = 1, SKDCE_BUF_READONLY = 2 };

/* PyObject_GetBuffer(obj, v, flags | PyBUF_FORMAT), with writability checked.
 * Returns SKDCE_BUF_OK with v held; SKDCE_BUF_READONLY (no exception set, v
 * not held) when flags ask for PyBUF_WRITABLE and obj only exports a read-only
 * buffer (NumPy refuses that request with ValueError, other exporters with
 * BufferError, and an exporter that grants it anyway is caught by readonly);
 * SKDCE_BUF_REFUSED (no exception set) when obj has no such buffer at all
 * (wrong type, or not contiguous where flags ask for it); -1 with the
 * exception left set for any other error (MemoryError, ...). */
static inline int skdce_get_buffer(PyObject *obj, Py_buffer *v, int flags)
{
    flags |= PyBUF_FORMAT;
    if (PyObject_GetBuffer(obj, v, flags) < 0) {
        if (!PyErr_ExceptionMatches(PyExc_BufferError) && !PyErr_ExceptionMatches(PyExc_TypeError)
            && !PyErr_ExceptionMatches(PyExc_ValueError))
            return -1;
        PyErr_Clear();
        if (!(flags & PyBUF_WRITABLE))
            return SKDCE_BUF_REFUSED;
        Py_buffer probe;
        if (PyObject_GetBuffer(obj, &probe, flags & ~PyBUF_WRITABLE) < 0) {
            PyErr_Clear();
            return SKDCE_BUF_REFUSED;
        }
        PyBuffer_Release(&probe);
        return SKDCE_BUF_READONLY;
    }
    if ((flags & PyBUF_WRITABLE) && v->readonly) {
        PyBuffer_Release(v);
        return SKDCE_BUF_READONLY;
    }
    return SKDCE_BUF_OK;
}

/* Whether a buffer's first element lies on a multiple of its item size. */
static inline int skdce_buffer_aligned(const Py_buffer *v)
{
    return v->itemsize > 0 && (uintptr_t)v->buf % (uintptr_t)v->itemsize == 0;
}

/* Whether no size is negative and every stride is a whole number of items: with
 * skdce_buffer_aligned, every element is aligned and a stride in elements
 * (strides[d] / itemsize) is exact. A buffer without shape or strides
 * (PyBUF_STRIDES not asked) is contiguous and passes. */
static inline int skdce_buffer_whole_strides(const Py_buffer *v)
{
    if (v->itemsize <= 0)
        return 0;
    for (int d = 0; d < v->ndim; d++)
        if ((v->shape != NULL && v->shape[d] < 0) || (v->strides != NULL && v->strides[d] % v->itemsize != 0))
            return 0;
    return 1;
}

/* The number of elements of a buffer (the product of its shape). */
static inline Py_ssize_t skdce_buffer_items(const Py_buffer *v)
{
    if (v->shape == NULL)
        return v->itemsize > 0 ? v->len / v->itemsize : 0;
    Py_ssize_t n = 1;
    for (int d = 0; d < v->ndim; d++)
        n *= v->shape[d];
    return n;
}

/* The bytes [lo, hi) a buffer's elements occupy, from its shape and strides
 * (negative strides included; lo == hi when it is empty). Without strides the
 * buffer is contiguous: [buf, buf + len). */
static inline void skdce_buffer_extent(const Py_buffer *v, uintptr_t *lo, uintptr_t *hi)
{
    const uintptr_t base = (uintptr_t)v->buf;
    *lo = *hi = base;
    if (v->shape == NULL || v->strides == NULL) {
        *hi = base + (uintptr_t)v->len;
        return;
    }
    if (skdce_buffer_items(v) == 0)
        return;
    Py_ssize_t low = 0, high = 0;
    for (int d = 0; d < v->ndim; d++) {
        const Py_ssize_t span = v->strides[d] * (v->shape[d] - 1);
        if (span < 0)
            low += span;
        else
            high += span;
    }
    *lo = base + low;
    *hi = base + high + v->itemsize;
}

/* Whether the extents of two buffers share a byte. Conservative for strided
 * views: two interleaved views (x[::2] and x[1::2]) count as overlapping. */
static inline int skdce_buffers_overlap(const Py_buffer *a, const Py_buffer *b)
{
    uintptr_t lo1, hi1, lo2, hi2;
    skdce_buffer_extent(a, &lo1, &hi1);
    skdce_buffer_extent(b, &lo2, &hi2);
    return lo1 < hi2 && lo2 < hi1;
}

/* Whether two elements of one strided buffer share memory: a broadcast view
 * (stride 0 along an axis longer than 1) or strides that make rows overlap.
 * Ordered by stride, each axis's step must clear everything the faster axes
 * span. Up to 8 axes longer than 1 are examined (skdce passes at most 4). */
static inline int skdce_buffer_self_overlaps(const Py_buffer *v)
{
    Py_ssize_t step[8], len[8];
    int n = 0;
    if (v->shape == NULL || v->strides == NULL || skdce_buffer_items(v) == 0)
        return 0;  /* contiguous, or no elements */
    for (int d = 0; d < v->ndim && n < 8; d++) {
        if (v->shape[d] > 1) {
            step[n] = v->strides[d] < 0 ? -v->strides[d] : v->strides[d];
            len[n++] = v->shape[d];
        }
    }
    for (int i = 1; i < n; i++)  /* insertion sort by step */
        for (int j = i; j > 0 && step[j] < step[j - 1]; j--) {
            const Py_ssize_t s = step[j], l = len[j];
            step[j] = step[j - 1], len[j] = len[j - 1];
            step[j - 1] = s, len[j - 1] = l;
        }
    Py_ssize_t reach = v->itemsize;
    for (int i = 0; i < n; i++) {
        if (step[i] < reach)
            return 1;
        reach = step[i] * (len[i] - 1) + reach;
    }
    return 0;
}

/* scipy's mode="reflect" (d c b a | a b c d, period 2n): index i of a row or column of n, mapped inside.
 * The box filters of skdce.native._gfilter and skdce.native._temporal read their edges through it. */
static inline Py_ssize_t skdce_reflect(Py_ssize_t i, Py_ssize_t n)
{
    if (i >= 0 && i < n)
        return i;
    const Py_ssize_t p = 2 * n;
    Py_ssize_t m = i % p;
    if (m < 0)
        m += p;
    return m < n ? m : p - 1 - m;
}

#endif /* SKDCE_BUFFER_H */
