"""One image larger than memory, file to file: Zarr stores and TIFF files through the Dask driver.

``skdce enhance big.tif -o out.zarr`` (or ``out.tif``, or ``big.zarr -o
out.zarr``) opens the input lazily (a Zarr array with :func:`dask.array.from_zarr`;
a TIFF through tifffile's Zarr store, which reads its tiles or strips on
demand, or as a memory map when it is stored uncompressed), runs
:func:`skdce.enhance` on the Dask array and writes the result chunk by chunk
into a temporary store or file beside the destination, renamed into place
once complete. Nothing larger than a band of chunks across the image is in
memory at a time.
"""

from __future__ import annotations

import contextlib
import math
import os
import shutil
from pathlib import Path

import numpy as np

from .._base.image import to_uint
from ..io._atomic import atomic_path, temporary_name
from ..io._paths import same_or_inside

__all__ = ["STREAM_SUFFIXES", "stream_kind", "open_lazy", "stream_enhance"]

ZARR_SUFFIXES = (".zarr",)
TIFF_SUFFIXES = (".tif", ".tiff")
STREAM_SUFFIXES = ZARR_SUFFIXES + TIFF_SUFFIXES

#: Working chunks: stored chunks (TIFF tiles or strips) are merged up to about this
#: many pixels a side, so there are few Dask tasks and each carries little halo.
WORK_CHUNK = 1024
#: Tile of a written TIFF (a multiple of 16, as TIFF requires).
TIFF_TILE = 256
#: How much of the result (bytes, output dtype) is computed per step when writing a TIFF.
BAND_BYTES = 64 << 20


def stream_kind(path) -> str | None:
    """``"zarr"``, ``"tiff"`` or ``None``, from the name of ``path``."""
    name = str(path).rstrip("/\\").lower()
    if name.endswith(ZARR_SUFFIXES):
        return "zarr"
    if name.endswith(TIFF_SUFFIXES):
        return "tiff"
    return None


def _require():
    try:
        import dask.array as da
        import zarr  # noqa: F401
    except ImportError:
        raise ImportError("streaming a Zarr or TIFF image needs Dask and Zarr: pip install 'skdce[dask]'.") from None
    return da


def _work_chunks(native: int, size: int) -> int:
    """A multiple of the stored chunk ``native`` near :data:`WORK_CHUNK` (at most ``size``)."""
    return min(size, native * max(1, math.ceil(WORK_CHUNK / native)))


def _check_dtype(path: Path, dtype) -> None:
    """Refuse signed-integer, boolean and complex samples before the work, as one line (a ValueError)."""
    if np.dtype(dtype).kind not in "uf":
        raise ValueError(f"{str(path)!r} has {dtype} samples; skdce takes unsigned integer or float images: convert "
                         f"it first (e.g. to float in [0, 1] with skimage.exposure.rescale_intensity).")


@contextlib.contextmanager
def open_lazy(path):
    """Open a Zarr array or a TIFF file as a lazy ``(H, W)`` or ``(H, W, C)`` Dask array.

    Yields ``(image, meta)``: ``meta`` holds the TIFF's ICC profile and
    resolution (``icc_profile``, ``dpi``), ``None`` for a Zarr store. The TIFF
    file stays open until the context ends, so compute inside it. A TIFF is
    turned upright by its orientation tag, as :func:`skdce.io.read_image` does.

    Raises
    ------
    ValueError
        Naming the file and the reason: not readable, not a gray or RGB(A)
        image, samples that are not unsigned integers or floats.
    """
    da = _require()
    path = Path(path)
    if not path.exists():
        raise ValueError(f"{str(path)!r} does not exist.")
    from ..io._paths import special_file_reason

    reason = special_file_reason(path)
    if reason:
        raise ValueError(f"cannot read {str(path)!r}: {reason}.")
    if stream_kind(path) == "zarr":
        try:
            image = da.from_zarr(str(path))
        except Exception as exc:  # zarr raises several types for a missing or broken store
            raise ValueError(f"cannot open {str(path)!r} as a Zarr array: {exc}") from None
        _check_dtype(path, image.dtype)
        yield image, {"icc_profile": None, "dpi": None}
        return
    import tifffile
    import zarr

    try:
        tf = tifffile.TiffFile(path)
    except Exception as exc:
        raise ValueError(f"cannot read {str(path)!r} as a TIFF file: {exc}") from None
    with tf:
        if not tf.series:
            raise ValueError(f"{str(path)!r} holds no image (the file is truncated, corrupt or empty).")
        series = tf.series[0]
        page = series.pages[0]
        if 50706 in tf.pages.first.tags or int(page.photometric) in (32803, 34892):  # DNGVersion; CFA, LinearRaw
            raise ValueError(f"{str(path)!r} is a camera RAW file (a DNG); its mosaic is developed whole by "
                             f"skdce.io.read_raw, not streamed: enhance it into a folder (-o out/).")
        axes = series.axes
        if axes not in ("YX", "YXS", "SYX"):
            raise ValueError(
                f"{str(path)!r} holds an image with axes {axes!r} {series.shape}; skdce streams one gray or "
                f"RGB(A) image (axes YX, YXS or SYX). Save the image you want on its own first."
            )
        _check_dtype(path, series.dtype)
        if page.is_contiguous and page.compression == 1:
            chunks = {"YX": (WORK_CHUNK,) * 2, "YXS": (WORK_CHUNK, WORK_CHUNK, -1), "SYX": (-1, WORK_CHUNK, WORK_CHUNK)}
            image = da.from_array(tifffile.memmap(path, mode="r", series=0), chunks=chunks[axes])
        else:
            try:
                z = zarr.open(tf.aszarr(series=0, level=0), mode="r")
            except Exception as exc:
                raise ValueError(f"cannot read {str(path)!r} in parts: {exc}") from None
            image = da.from_zarr(z)
        if axes == "SYX":
            image = da.moveaxis(image, 0, -1)
        if image.ndim == 3 and image.shape[-1] == 1:
            image = image[..., 0]
        if image.ndim == 3 and image.shape[-1] > 4:
            raise ValueError(f"{str(path)!r} has {image.shape[-1]} samples per pixel; skdce takes gray or RGB(A).")
        h, w = image.shape[:2]
        image = image.rechunk({0: _work_chunks(image.chunks[0][0], h), 1: _work_chunks(image.chunks[1][0], w)})
        from ..io._metadata import apply_orientation, tiff_dpi

        tags = page.tags
        orientation = int(tags[274].value) if 274 in tags else 1
        if 2 <= orientation <= 8:
            image = apply_orientation(image, orientation)
        meta = {"icc_profile": bytes(tags[34675].value) if 34675 in tags else None, "dpi": tiff_dpi(tags)}
        yield image, meta


def _write_store(out, dst: Path, overwrite: bool) -> None:
    """Write the Dask array ``out`` as the zarr store ``dst``, completely or not at all.

    A store is a folder, so :func:`~skdce.io._atomic.atomic_path` (a file writer)
    does not apply; the same rules are kept by hand. The store is written
    under a temporary name that skdce's folder scans skip. Without
    ``overwrite``, ``dst`` is first claimed with an exclusive ``mkdir`` (a
    store created meanwhile by another process makes it fail, and is kept),
    then the finished store is renamed onto that empty folder, which POSIX
    allows in one step. With ``overwrite``, an old store is removed only once
    the new one is complete.
    """
    from concurrent.futures import ThreadPoolExecutor

    tmp = temporary_name(dst)
    claimed = False
    # Our own pool, so that on an interruption the chunks being written finish before the temporary store is
    # removed (dask's shared pool would let them write into it after the removal).
    pool = ThreadPoolExecutor(max_workers=os.cpu_count() or 1, thread_name_prefix="skdce-zarr")
    try:
        try:
            out.to_zarr(str(tmp), compute=False).compute(scheduler="threads", pool=pool)
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
        if overwrite:
            if dst.is_dir() and not dst.is_symlink():
                shutil.rmtree(dst)
        else:
            try:
                os.mkdir(dst)
            except FileExistsError:
                raise FileExistsError(f"{str(dst)!r} exists; pass --overwrite to replace it.") from None
            claimed = True
        os.replace(tmp, dst)
        claimed = False
    finally:
        if claimed:
            with contextlib.suppress(OSError):
                os.rmdir(dst)  # the empty folder claimed above: nothing of ours is left behind
        if tmp.exists():
            _drain_zarr_io()
            shutil.rmtree(tmp, ignore_errors=True)


def _drain_zarr_io(timeout: float = 10.0) -> None:
    """Wait until the coroutines of zarr's IO loop end (best effort; zarr 3 only).

    zarr 3 writes from its own event-loop thread; a KeyboardInterrupt in the
    thread that waits for a write (creating the store's metadata, say) leaves
    that write running, and it would recreate a temporary store removed
    before it ends. The loop is zarr's private ``zarr.core.sync._get_loop``:
    no public call waits for it, so any failure here is ignored.
    """
    import asyncio

    try:
        from zarr.core.sync import _get_loop

        loop = _get_loop()

        async def drain():
            others = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            if others:
                await asyncio.wait(others, timeout=timeout)

        asyncio.run_coroutine_threadsafe(drain(), loop).result(timeout=timeout + 1)
    except Exception:  # pragma: no cover - another zarr version, a closed loop
        pass


def _bands(out, band_bytes: int = BAND_BYTES):
    """Compute ``out`` (a Dask array) in bands of whole row chunks; yield each band as an ndarray."""
    row_bytes = out.shape[1] * (out.shape[2] if out.ndim == 3 else 1) * out.dtype.itemsize
    rows = out.chunks[0]
    i = 0
    while i < len(rows):
        j, height = i + 1, rows[i]
        while j < len(rows) and (height + rows[j]) * row_bytes <= band_bytes:
            height += rows[j]
            j += 1
        yield out.blocks[i:j].compute()
        i = j


def _tiles(out, tile: int):
    """The TIFF tiles of ``out`` in file order (row by row), computed band by band."""
    pending = None
    for band in _bands(out):
        pending = band if pending is None else np.concatenate([pending, band])
        while pending.shape[0] >= tile:
            yield from _row_of_tiles(pending[:tile], tile)
            pending = pending[tile:]
    if pending is not None and pending.shape[0]:
        yield from _row_of_tiles(pending, tile)


def _row_of_tiles(rows, tile):
    for x0 in range(0, rows.shape[1], tile):
        yield np.ascontiguousarray(rows[:, x0 : x0 + tile])  # tifffile zero-pads the last ones


def _write_tiff(out, tmp: Path, meta: dict) -> None:
    import tifffile

    channels = 1 if out.ndim == 2 else out.shape[2]
    options = {}
    if meta.get("dpi"):
        options.update(resolution=tuple(meta["dpi"]), resolutionunit="INCH")
    tifffile.imwrite(
        tmp,
        _tiles(out, TIFF_TILE),
        shape=out.shape,
        dtype=out.dtype,
        tile=(TIFF_TILE, TIFF_TILE),
        photometric="minisblack" if channels <= 2 else "rgb",
        planarconfig="contig" if channels > 1 else None,
        extrasamples=("unassalpha",) if channels in (2, 4) else None,
        compression="zlib",
        bigtiff=out.nbytes > 2**31,
        iccprofile=meta.get("icc_profile"),
        metadata=None,
        **options,
    )  # atomic_path fsyncs it before it takes the name


def stream_enhance(src, dst, *, overwrite=False, **enhance_kw):
    """Enhance the image in ``src`` (Zarr or TIFF) into ``dst`` (Zarr or TIFF), chunk by chunk.

    Parameters
    ----------
    src, dst : str or os.PathLike
        A ``.zarr`` store or a ``.tif``/``.tiff`` file each.
    overwrite : bool, optional
        Replace an existing ``dst`` (only once the new one is complete).
    **enhance_kw
        Passed to :func:`skdce.enhance` (``model``, ``strength``, ``denoise``,
        ``providers``, ``num_threads``, ``tile_size``).

    Returns
    -------
    shape, dtype
        Of the image read (and written: unsigned integers stay in their dtype,
        rounded from the float result; floats are written as float32/float64).

    Raises
    ------
    FileExistsError
        If ``dst`` exists and ``overwrite`` is false.
    ValueError
        For an unreadable input, a destination that is neither Zarr nor TIFF,
        or one that is the input (under any name), holds it or lies inside it.
    """
    from ..pipeline import enhance

    src, dst = Path(src), Path(dst)
    kind = stream_kind(dst)
    if kind is None:
        raise ValueError(f"{str(dst)!r}: the output of a streamed image is a .zarr store or a .tif file; name it so.")
    if same_or_inside(src, dst):  # checked before --overwrite is: an input is never replaced, nor written into
        raise ValueError(f"the output {str(dst)!r} is the input {str(src)!r} (or holds it, or lies inside it); "
                         f"skdce never replaces an input: choose another output name.")
    if dst.exists() and not overwrite:
        raise FileExistsError(f"{str(dst)!r} exists; pass --overwrite to replace it.")
    if os.path.lexists(dst) and (dst.is_symlink() or dst.is_dir() != (kind == "zarr")):
        what = "a link" if dst.is_symlink() else "a folder" if dst.is_dir() else "a file"
        raise ValueError(f"{str(dst)!r} is {what}, not a {'Zarr store' if kind == 'zarr' else 'TIFF file'}; "
                         f"--overwrite replaces only an output of the same kind: remove it or choose another name.")
    _require()  # before any work: a clear message where Dask or Zarr is missing
    with open_lazy(src) as (image, meta):
        out = enhance(image, channel_axis=None if image.ndim == 2 else -1, **enhance_kw)
        if image.dtype.kind == "u":
            out = to_uint(out, image.dtype)
        if kind == "tiff":
            with atomic_path(dst, overwrite=overwrite) as tmp:
                _write_tiff(out, tmp, meta)
        else:
            _write_store(out, dst, overwrite)
    return image.shape, image.dtype
