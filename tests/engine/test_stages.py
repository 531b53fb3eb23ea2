"""Each numeric stage of the engine: its host code, its ONNX graph builder and its torch twin, held against the
stage's one float64 oracle (``skdce/engine/stages/*.py``: a change to a stage means one file and this test).

The ONNX builders run in a small graph of their own on ONNX Runtime's CPU provider; the host code runs with the
compiled kernels and, where there is one, with the NumPy fallback.
"""

import numpy as np
import pytest

from skdce.engine.graph import Graph
from skdce.engine.stages import boxes, curve, gain, guided, learned, network, noise, tone

onnx = pytest.importorskip("onnx")
torch = pytest.importorskip("torch")
ort = pytest.importorskip("onnxruntime")

F32 = 5e-7  # float32 against the float64 oracle, values in [0, 1] after eight curve steps (found: 1.3e-7)


def run_graph(build, **inputs):
    """Build a graph whose inputs are ``inputs`` (float32 or int64 arrays) and whose one output ``build(g)`` names."""
    from onnx import helper

    g = Graph()
    types = {np.dtype(np.float32): g.T.FLOAT, np.dtype(np.int64): g.T.INT64, np.dtype(np.uint8): g.T.UINT8,
             np.dtype(np.uint16): g.T.UINT16}
    declared = [helper.make_tensor_value_info(name, types[np.asarray(v).dtype], list(np.shape(v)))
                for name, v in inputs.items()]
    out = build(g)
    g.nodes.append(helper.make_node("Identity", [out], ["out"]))
    graph = helper.make_graph(g.nodes, "stage", declared, [helper.make_tensor_value_info("out", g.T.FLOAT, None)],
                              initializer=g.inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return session.run(None, {k: np.asarray(v) for k, v in inputs.items()})[0]


def nchw(a):
    return np.ascontiguousarray(np.moveaxis(a, -1, 1))


def nhwc(a):
    return np.moveaxis(np.asarray(a), 1, -1)


@pytest.fixture(params=["compiled", "numpy"])
def kernels(request, monkeypatch):
    """The host code with the C extensions, and with the NumPy fallback they replace."""
    if request.param == "numpy":
        for stage in (curve, boxes):
            monkeypatch.setattr(stage, "_kernels", None)
        for stage in (gain, guided):
            monkeypatch.setattr(stage, "_gfilter", None)
    elif curve._kernels is None or gain._gfilter is None:
        pytest.skip("skdce was built without its C extensions")
    return request.param


@pytest.fixture
def rng():
    return np.random.default_rng(11)


# --- the LE curve --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", ["float32", "uint8", "uint16"])
@pytest.mark.parametrize("per_iteration", [False, True])
def test_curve(rng, kernels, per_iteration, dtype):
    if dtype == "float32":
        x, unit = rng.random((1, 19, 23, 3)).astype(np.float32), None
    else:  # integer images: scaled by the dtype's maximum inside the kernel and the graph
        top = np.iinfo(dtype).max
        x, unit = rng.integers(0, top, (1, 19, 23, 3), endpoint=True).astype(dtype), 1.0 / top
    k = 8 if per_iteration else 1
    a = rng.uniform(-1, 1, (19, 23, k, 3)).astype(np.float32)
    x01 = x[0] * (unit or 1.0)
    want = curve.reference_le_curves(x01, a, 8)

    host = np.empty(x.shape, np.float32)
    curve.run_blocks(x, host, 3, lambda _b, r0, r1, c0, c1: a[r0:r1, c0:c1], n_iter=8, per_iter=per_iteration,
                     int_scale=unit, check_image=unit is None, check_alpha=True)  # integers are in range
    np.testing.assert_allclose(host[0], want, atol=F32, rtol=0)

    maps = [a[:, :, i, :] for i in range(k)]
    if per_iteration:
        feeds = {f"a{i}": nchw(m[None]) for i, m in enumerate(maps)} | {"x": nchw(x)}
        got = run_graph(lambda g: curve.onnx_curves_per_iteration(g, "x", dtype, [f"a{i}" for i in range(8)]),
                        **feeds)
    else:  # the raw input serves as the float32 one too: the graph reads it only for float32 images
        got = run_graph(lambda g: curve.onnx_curves_shared(g, "x", "x", dtype, "a", 8), x=nchw(x),
                        a=nchw(maps[0][None]))
    np.testing.assert_allclose(nhwc(got)[0], want, atol=F32, rtol=0)

    t_alphas = torch.from_numpy(np.concatenate([nchw(m[None]) for m in maps], axis=1)).double()
    twin = curve.torch_le_curves(torch.from_numpy(nchw(x01[None])).double(), t_alphas, 8)
    np.testing.assert_allclose(nhwc(twin.numpy())[0], want, atol=1e-12, rtol=0)


def test_curve_oracle_is_the_formula():
    """The oracle itself, on values worked out by hand: LE(0.25) with a = 1 is 0.4375, then 0.68359375."""
    got = curve.reference_le_curves(np.array([[0.25]]), np.ones((1, 1, 1)), 2)
    assert got.item() == 0.68359375


# --- the gain and the noise it adds ---------------------------------------------------------------------------


def test_gain(rng, kernels):
    x = rng.random((17, 21, 3)).astype(np.float32)
    a = rng.uniform(-1, 1, (17, 21, 1, 3)).astype(np.float32)
    sigma = 0.02
    level = x.mean(axis=-1, keepdims=True, dtype=np.float64)
    mean_a = a.mean(axis=-1, keepdims=True, dtype=np.float64)
    want_gain = gain.reference_gain(level, mean_a, 8)[..., 0]
    want = sigma * np.sqrt(np.maximum(want_gain**2 - 1, 0))

    np.testing.assert_allclose(gain.gain_block(level.astype(np.float32), mean_a.astype(np.float32), 8)[..., 0],
                               want_gain, rtol=1e-5, atol=1e-5)
    host = gain.added_noise(x, a, 8, 1.0, sigma, np.float32)
    # absolute: a standard deviation (sqrt(g**2 - 1) loses relative precision near g = 1); found 4e-7
    np.testing.assert_allclose(host, want, rtol=0, atol=1.5e-6)

    mean_maps = nchw(a[None, :, :, 0, :].mean(axis=-1, keepdims=True))
    got = run_graph(lambda g: gain.onnx_gain_noise(g, "level", ["a"], 8, "sigma"),
                    level=nchw(level[None].astype(np.float32)), a=mean_maps, sigma=np.array([sigma], np.float32))
    np.testing.assert_allclose(nhwc(got)[0, ..., 0], want, rtol=0, atol=1.5e-6)

    twin = gain.torch_added_noise(torch.from_numpy(nchw(level[None])), [torch.from_numpy(nchw(a[None, :, :, 0, :]))
                                                                        .double()] * 8, sigma)
    np.testing.assert_allclose(nhwc(twin.numpy())[0, ..., 0], want, rtol=1e-9, atol=1e-12)


# --- the noise level --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("h, w", [(64, 80), (700, 600), (2, 40)])
def test_noise_level(rng, h, w):
    img = np.clip(0.4 + 0.03 * rng.standard_normal((h, w, 3)), 0, 1).astype(np.float32)
    want = noise.reference_noise_level(img)
    assert noise.noise_level(img) == pytest.approx(want, rel=1e-5, abs=1e-12)
    twin = noise.torch_noise_level(torch.from_numpy(nchw(img[None])).double())
    assert float(twin) == pytest.approx(want, rel=1e-9, abs=1e-12)
    if h > 2:
        assert want == pytest.approx(0.03, rel=0.1)  # the estimate finds the noise it was given


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
@pytest.mark.parametrize("shape", [(3, 3, 1), (4, 7, 3), (37, 41, 3), (64, 50, 2)])
def test_integer_rows_take_the_histogram_path_exactly(rng, dtype, shape):
    """8- and 16-bit rows: the operator in int32 and the median from a histogram, equal to the float path."""
    top = np.iinfo(dtype).max
    for scale in (top, 3, 1):  # full range, a few levels (many equal responses: the even-count median), flat
        img = rng.integers(0, scale + 1, shape).astype(dtype)
        starts = noise.noise_rows(*shape[:2])
        rows = [img[starts + k] for k in range(3)]
        assert noise.noise_from_rows(rows) == noise.noise_from_rows([r.astype(np.float32) for r in rows])


def jpeg_like_dark(rng, h=64, w=96):
    """A dark uint8 image as a JPEG leaves one: flat 8x8 blocks one or two levels apart, no noise inside."""
    levels = rng.integers(2, 5, (h // 8, w // 8, 3))
    return np.repeat(np.repeat(levels, 8, axis=0), 8, axis=1).astype(np.uint8)


def test_the_filter_sees_at_least_the_rounding(rng):
    assert noise.rounding_noise(np.uint8) == pytest.approx(1 / (255 * 12**0.5))
    assert noise.rounding_noise(np.uint16) == pytest.approx(1 / (65535 * 12**0.5))
    assert noise.rounding_noise(np.float32) == 0.0
    dark = jpeg_like_dark(rng)
    assert noise.noise_level(dark) == 0.0  # the median response of flat blocks: none
    assert noise.filter_noise_level(dark) == noise.rounding_noise(np.uint8)
    noisy = np.clip(0.4 + 0.03 * rng.standard_normal((40, 50, 3)), 0, 1)
    u8 = np.round(noisy * 255).astype(np.uint8)
    assert noise.filter_noise_level(u8) == noise.noise_level(u8)  # above the floor: the estimate itself
    assert noise.filter_noise_level(noisy.astype(np.float32)) == noise.noise_level(noisy.astype(np.float32))


def box_means_2x2(x):
    h, w = x.shape[0] // 2 * 2, x.shape[1] // 2 * 2
    x = np.asarray(x, np.float64)[:h, :w]
    return 0.25 * (x[0::2, 0::2] + x[1::2, 0::2] + x[0::2, 1::2] + x[1::2, 1::2])


@pytest.mark.parametrize("h, w", [(41, 37), (64, 96), (120, 90)])
def test_coarse_noise_reads_white_noise_as_the_fine_scale_does(rng, h, w):
    img = np.clip(0.3 + 0.02 * rng.standard_normal((h, w, 3)), 0, 1).astype(np.float32)
    got = noise.coarse_noise_level(img)
    # the oracle: twice Immerkaer's estimate on the 2x2 means (small images: every row is read at both scales)
    assert got == pytest.approx(2 * noise.reference_noise_level(box_means_2x2(img)), rel=1e-5)
    assert got == pytest.approx(noise.noise_level(img), rel=0.15)  # white noise: one figure at both scales
    fine, block = noise.noise_level(img), noise.block_noise(img)
    assert noise.filter_noise_level(img) == noise.combine_levels(fine, got, block)
    twin = noise.torch_filter_noise_level(torch.from_numpy(nchw(img[None])).double())
    assert float(twin) == pytest.approx(noise.filter_noise_level(img), rel=1e-5)


def test_combine_levels():
    assert noise.combine_levels(0.01, 0.005, 0.0) == 0.01  # the coarse figure never lowers the fine one
    assert noise.combine_levels(0.01, 0.03, 0.0) == 0.01  # no blocks: coarse power is texture, not taken
    assert noise.combine_levels(0.01, 0.03, 0.015) == 0.03  # steps of half the coarse figure: taken in full
    assert noise.combine_levels(0.01, 0.03, 0.0075) == pytest.approx(0.02)  # a quarter: half way


def test_the_filter_sees_the_noise_a_jpeg_flattened(rng):
    """A dark, noisy picture stored as a JPEG: its noise survives as blotches and block steps that the fine
    scale reads as nearly clean; the denoiser is steered by the error actually left."""
    import io

    from PIL import Image

    yy, xx = np.mgrid[0:192, 0:256]
    clean = 0.06 + 0.05 * np.sin(xx / 23.0)[..., None] * np.cos(yy / 31.0)[..., None] + np.array([0.02, 0.0, -0.01])
    noisy = np.round(np.clip(clean + 8 / 255 * rng.standard_normal(clean.shape), 0, 1) * 255).astype(np.uint8)
    buf = io.BytesIO()
    Image.fromarray(noisy).save(buf, "JPEG", quality=75)
    jpeg = np.asarray(Image.open(buf))
    left = float(np.std(jpeg / 255.0 - clean))  # the error the JPEG left against the clean picture
    assert noise.noise_level(jpeg) < 0.5 * left  # the fine scale alone misses most of it
    assert noise.block_noise(jpeg) > 0.5 * noise.coarse_noise_level(jpeg)  # its grid's steps explain the blotches
    assert noise.filter_noise_level(jpeg) == pytest.approx(left, rel=0.3)
    twin = noise.torch_filter_noise_level(torch.from_numpy(nchw(jpeg[None] / 255.0)))
    assert float(twin) == pytest.approx(noise.filter_noise_level(jpeg), rel=1e-5)
    assert noise.filter_noise_level(noisy) == pytest.approx(8 / 255, rel=0.15)  # before the JPEG: the noise given
    assert noise.block_noise(noisy) < 0.15 * noise.noise_level(noisy)  # never a JPEG: no grid (chance: < 0.1)
    shifted = jpeg[3:, 5:]  # cropped after decoding: the grid no longer starts at the corner
    assert noise.block_noise(shifted) < 0.1 * noise.block_noise(jpeg)


def test_texture_is_not_read_as_noise():
    """Clean, darkened grass: the coarse scale reads its blades as noise; without JPEG blocks it is not taken,
    so the denoiser does not smooth the texture away."""
    from skimage import data

    from skdce.data import darken

    grass = np.repeat(data.grass()[:200, :300, None], 3, axis=-1)
    dark = np.round(darken(grass, gain=0.1, photons=None, read_noise=0.0) * 255).astype(np.uint8)
    fine = noise.noise_level(dark)
    assert noise.coarse_noise_level(dark) > 1.5 * fine  # texture has more power at the coarser scale
    # the coarse figure is not taken; a gray image's texture is one in all three channels, so it reads as shared
    # noise and is raised by the boost (the cost shared_noise_factor's notes name), no more
    assert noise.filter_noise_level(dark) == pytest.approx(noise.SHARED_NOISE_BOOST * fine, rel=0.05)


def shared_rows(img):
    starts = noise.noise_rows(*img.shape[:2])
    return [img[starts + k] for k in range(3)]


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.float32])
def test_luma_rows_are_the_channels_mean(rng, dtype):
    img = np.clip(0.3 + 0.05 * rng.standard_normal((50, 70, 3)), 0, 1)
    img = np.round(img * np.iinfo(dtype).max).astype(dtype) if dtype != np.float32 else img.astype(dtype)
    scale = noise.unit_scale(img.dtype) if dtype != np.float32 else 1.0
    got = noise.luma_from_rows(shared_rows(img)) * scale
    want = noise.reference_noise_level(img.astype(np.float64).mean(axis=-1, keepdims=True) * scale)
    assert got == pytest.approx(want, rel=1e-5, abs=1e-12)
    rows = shared_rows(img)
    if dtype == np.uint8:  # summed in 16 bits: the exact histogram path, equal to the float path
        assert noise.luma_from_rows(rows) == noise.luma_from_rows([r.astype(np.float32) for r in rows])
        signed = [(r.astype(np.int16) - 77).astype(np.int8) for r in rows]  # about 0: int8 sums without wrapping
        assert noise.luma_from_rows(signed) == noise.luma_from_rows([r.astype(np.float32) for r in signed])
    # one pass: the sum of the channels' responses is the response of their sum (exact in integers)
    fine, luma = noise.fine_and_luma_from_rows(rows)
    assert fine == noise.noise_from_rows(rows)
    if dtype == np.float32:
        assert luma == pytest.approx(noise.luma_from_rows(rows), rel=1e-5)
    else:
        assert luma == noise.luma_from_rows(rows)


def test_noise_the_channels_share_raises_the_level(rng):
    """Noise of each channel's own averages down in the luminance (ratio 1); one noise in all three does not
    (sqrt(3)): the luminance stage's regulariser would sit at its noise, so the level is raised."""
    base = np.full((96, 128, 3), 0.2)
    own = np.clip(base + 0.02 * rng.standard_normal(base.shape), 0, 1).astype(np.float32)
    shared = np.clip(base + 0.02 * rng.standard_normal(base.shape[:2])[..., None], 0, 1).astype(np.float32)
    for img, factor in ((own, 1.0), (shared, noise.SHARED_NOISE_BOOST)):
        fine = noise.noise_level(img)
        luma = noise.noise_level(img.mean(axis=-1, keepdims=True))
        assert noise.shared_noise_factor(fine, luma) == factor
        want = noise.combine_levels(factor * fine, noise.coarse_noise_level(img), noise.block_noise(img))
        assert noise.filter_noise_level(img) == pytest.approx(want, rel=1e-5)
        twin = noise.torch_filter_noise_level(torch.from_numpy(nchw(img[None])).double())
        assert float(twin) == pytest.approx(noise.filter_noise_level(img), rel=1e-5)
    # a gray image's luminance is its one channel: its noise is as strong there, raised as the RGB copy is
    gray = shared[..., :1]
    assert noise.shared_noise_factor(0.02, 0.02) == noise.SHARED_NOISE_BOOST
    want = noise.combine_levels(noise.SHARED_NOISE_BOOST * noise.noise_level(gray), noise.coarse_noise_level(gray),
                                noise.block_noise(gray))
    assert noise.filter_noise_level(gray) == pytest.approx(want, rel=1e-5)
    assert noise.filter_noise_level(gray) == pytest.approx(noise.filter_noise_level(shared), rel=1e-5)
    twin = noise.torch_filter_noise_level(torch.from_numpy(nchw(gray[None])).double())
    assert float(twin) == pytest.approx(noise.filter_noise_level(gray), rel=1e-5)
    assert noise.shared_noise_factor(0.0, 0.0) == 1.0
    mid = sum(noise.SHARED_NOISE) / 2 / 3**0.5  # half way up the ramp: half the boost
    assert noise.shared_noise_factor(1.0, mid) == pytest.approx(1 + (noise.SHARED_NOISE_BOOST - 1) / 2)


@pytest.mark.parametrize("subsampling, raised", [(2, True), (None, False)])  # 4:2:0 JPEG; PNG
def test_a_phone_jpeg_is_filtered_for_the_noise_it_kept(rng, subsampling, raised):
    """A dark, noisy picture stored as a quality-90 JPEG with 4:2:0 chroma (as phones store them) keeps its
    luminance's noise and loses its chroma's: the level is raised. The same picture as PNG is not."""
    import io

    from PIL import Image

    yy, xx = np.mgrid[0:192, 0:256]
    clean = 0.08 + 0.04 * np.sin(xx / 19.0)[..., None] * np.cos(yy / 27.0)[..., None] + np.array([0.02, 0.0, -0.01])
    img = np.round(np.clip(clean + 6 / 255 * rng.standard_normal(clean.shape), 0, 1) * 255).astype(np.uint8)
    if subsampling is not None:
        buf = io.BytesIO()
        Image.fromarray(img).save(buf, "JPEG", quality=90, subsampling=subsampling)
        img = np.asarray(Image.open(buf))
    fine, luma = noise.noise_level(img), noise.noise_level(img.mean(axis=-1, keepdims=True) / 255)
    factor = noise.shared_noise_factor(fine, luma)
    assert factor == (noise.SHARED_NOISE_BOOST if raised else 1.0)
    want = noise.combine_levels(factor * fine, noise.coarse_noise_level(img), noise.block_noise(img))
    assert noise.filter_noise_level(img) == pytest.approx(want, rel=1e-5)
    assert noise.filter_noise_level(img) >= (noise.SHARED_NOISE_BOOST if raised else 1.0) * fine


@pytest.mark.parametrize("order", [0, 3])  # nearest, bicubic
@pytest.mark.parametrize("factor", [2, 4])
def test_an_upscaled_image_is_no_jpeg(order, factor):
    """Upscaled by 2 or 4, noisy dark grass has steps every 2 or 4 pixels, phase 0 of the 8x8 grid among them."""
    from scipy.ndimage import zoom
    from skimage import data

    from skdce.data import darken

    grass = np.repeat(data.grass()[:100, :150, None], 3, axis=-1)
    noisy = darken(grass, gain=0.1, photons=1000.0, read_noise=0.002)
    big = np.round(np.clip(zoom(noisy, (factor, factor, 1), order=order), 0, 1) * 255).astype(np.uint8)
    fine, coarse = noise.noise_level(big), noise.coarse_noise_level(big)
    assert noise.block_noise(big) < 0.1 * max(coarse, 1 / 255)  # no grid seen
    assert noise.filter_noise_level(big) <= max(1.15 * fine, noise.rounding_noise(np.uint8))


# --- the guided filter ------------------------------------------------------------------------------------------


def test_guided(rng, kernels):
    y = np.clip(0.5 + 0.1 * rng.standard_normal((37, 41, 3)), 0, 1)
    n = np.full((37, 41), 0.05) * rng.random((37, 41))
    want = guided.denoise_block(y, n)  # float64 throughout: the oracle
    assert np.abs(want - y).max() > 0.01  # it filters

    host = guided.denoise_bands(y.astype(np.float32), n.astype(np.float32), 2)
    np.testing.assert_allclose(host, want, atol=2e-6, rtol=0)  # found: 5e-7
    got = run_graph(lambda g: guided.onnx_guided(g, "y", "noise", 3), y=nchw(y[None].astype(np.float32)),
                    noise=n[None, None].astype(np.float32))
    np.testing.assert_allclose(nhwc(got)[0], want, atol=4e-6, rtol=0)  # found: 1.3e-6 (running sums in the pools)
    twin = guided.torch_guided(torch.from_numpy(nchw(y[None])), torch.from_numpy(n[None, None]))
    np.testing.assert_allclose(nhwc(twin.numpy())[0], want, atol=1e-12, rtol=0)


def test_guided_gray_is_filtered_as_its_rgb_copy(rng, kernels):
    """A gray image's one channel goes through both stages, as each channel of the same image repeated in three."""
    y1 = np.clip(0.3 + 0.08 * rng.standard_normal((37, 41, 1)), 0, 1)
    n = np.full((37, 41), 0.04) * rng.random((37, 41))
    want = guided.denoise_block(np.repeat(y1, 3, axis=-1), n)[..., :1]
    np.testing.assert_allclose(guided.denoise_block(y1, n), want, atol=1e-12, rtol=0)
    host = guided.denoise_bands(y1.astype(np.float32), n.astype(np.float32), 2)
    np.testing.assert_allclose(host, want, atol=2e-6, rtol=0)
    got = run_graph(lambda g: guided.onnx_guided(g, "y", "noise", 1), y=nchw(y1[None].astype(np.float32)),
                    noise=n[None, None].astype(np.float32))
    np.testing.assert_allclose(nhwc(got)[0], want, atol=4e-6, rtol=0)


# --- box means, resampling, context ------------------------------------------------------------------------------


def test_box_means(rng, kernels):
    img = rng.random((2, 37, 53, 3)).astype(np.float32)
    want = boxes.reference_box_means(img, (5, 7))
    np.testing.assert_allclose(boxes.box_downscale(img, (5, 7)), want, atol=1e-6, rtol=0)
    ey, ex = boxes.bin_edges(37, 5), boxes.bin_edges(53, 7)
    part = boxes.bin_sums(img[:, 10:30], 10, 0, ey, ex) + boxes.bin_sums(img[:, :10], 0, 0, ey, ex) \
        + boxes.bin_sums(img[:, 30:], 30, 0, ey, ex)  # the sums of three bands add up to the whole image's
    counts = np.diff(ey)[:, None, None] * np.diff(ex)[None, :, None]
    np.testing.assert_allclose(part / counts, want, atol=1e-12, rtol=0)
    twin = boxes.torch_box_downscale(torch.from_numpy(nchw(img)).double(), (5, 7))
    np.testing.assert_allclose(nhwc(twin.numpy()), want, atol=1e-12, rtol=0)


def test_box_filter(rng):
    x = rng.random((1, 2, 19, 23))
    want = np.stack([[boxes.box_filter(x[0, c], 3) for c in range(2)]])  # float64: the oracle
    cell = x[0, 0, 5:12, 6:13].mean()  # an interior window, by hand
    assert want[0, 0, 8, 9] == pytest.approx(cell, abs=1e-12)
    got = run_graph(lambda g: boxes.onnx_box_filter(g, "x", 3, "x"), x=x.astype(np.float32))
    np.testing.assert_allclose(got, want, atol=1e-6, rtol=0)
    np.testing.assert_allclose(boxes.torch_box_filter(torch.from_numpy(x), 3).numpy(), want, atol=1e-12, rtol=0)


def test_upsampling(rng):
    maps = rng.uniform(-1, 1, (1, 4, 6, 3)).astype(np.float32)
    size = (29, 37)
    want = torch.nn.functional.interpolate(torch.from_numpy(nchw(maps)).double(), size=size, mode="bilinear",
                                           align_corners=False)  # the torch twin: the oracle of the upsampling
    want = nhwc(want.numpy())
    np.testing.assert_allclose(boxes.bilinear_upsample(maps, size), want, atol=1e-6, rtol=0)
    (rows, wy), (cols, wx) = boxes.onnx_taps(4, size[0], True), boxes.onnx_taps(6, size[1], False)
    got = run_graph(lambda g: boxes.onnx_upsample(g, "a"), a=nchw(maps), up_rows=rows, up_wy=wy.reshape(1, 1, -1, 1),
                    up_cols=cols, up_wx=wx.reshape(1, 1, 1, -1))
    np.testing.assert_allclose(nhwc(got), want, atol=1e-6, rtol=0)


def test_context(rng):
    img = rng.random((1, 33, 47, 3)).astype(np.float32)
    want = boxes.torch_illumination_context(torch.from_numpy(nchw(img)).double()).numpy()[:, 0]
    host = boxes.illumination_context(img)
    np.testing.assert_allclose(host, want, atol=1e-6, rtol=0)
    ctx = boxes.ContextMap(img)
    got = run_graph(lambda g: boxes.onnx_context(g, len(boxes.CONTEXT_GRIDS)),
                    **boxes.onnx_context_feeds(ctx, 0, 1, 0, 33, 0, 47))
    np.testing.assert_allclose(got[:, 0], host, atol=1e-7, rtol=0)


# --- the tone steps ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("exposure", [0.0, 1.5, -2.0])
def test_tone(rng, exposure):
    y = rng.random((2, 13, 17, 3)).astype(np.float32)
    lift = np.array([[0.1, 0.05, 0.0], [0.0, 0.2, 0.3]])
    want = tone.reference_finish_tone(y, lift, exposure)
    np.testing.assert_allclose(tone.finish_tone(y.copy(), lift, exposure, num_threads=2), want, atol=1e-6, rtol=0)
    twin = tone.torch_remove_lift(torch.from_numpy(nchw(y)).double(), torch.from_numpy(lift))
    np.testing.assert_allclose(nhwc(twin.numpy()), tone.reference_finish_tone(y, lift), atol=1e-12, rtol=0)

    small, after = rng.random((2, 9, 11, 3)), rng.random((2, 9, 11, 3))
    np.testing.assert_allclose(tone.torch_black_lift(torch.from_numpy(nchw(small)), torch.from_numpy(nchw(after)))
                               .numpy(), tone.black_lift(small, after), atol=1e-12, rtol=0)


@pytest.mark.parametrize("exposure", [1.0, 1.5, -2.0, -4.0])
def test_exposure_oracle_moves_middle_grey(exposure):
    """The oracle's exposure, on the formula: middle grey (0.18 linear, gamma 2.2) moves by ``exposure`` stops."""
    grey = np.full((1, 1, 1, 1), tone.MIDDLE_GREY ** (1 / 2.2))
    got = tone.reference_finish_tone(grey, None, exposure)
    assert got.item() == pytest.approx((tone.MIDDLE_GREY * 2**exposure) ** (1 / 2.2), abs=1e-12)
    assert all(-1 <= a <= 1 for a in tone.exposure_alphas(exposure))  # each step a monotonic curve


# --- the network's input and maps ----------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", ["uint8", "uint16", "float32"])
@pytest.mark.parametrize("n_color", [1, 3])
def test_network_input(rng, dtype, n_color):
    """What the network sees, on the host and in the graph: RGB on [0, 1] in float32, a gray channel repeated."""
    full = rng.random((13, 17, n_color + 1))  # a trailing alpha channel, which the network never sees
    if dtype == "float32":
        x, unit = full.astype(np.float32), 1.0
    else:
        x, unit = np.round(full * np.iinfo(dtype).max).astype(dtype), 1.0 / np.iinfo(dtype).max
    want = np.repeat(x[..., :n_color] * unit, 3 // n_color, axis=-1)  # float64: the oracle

    host = network.net_input(x, n_color)
    assert host.shape == (1, 3, 13, 17) and host.dtype == np.float32 and host.flags.c_contiguous
    np.testing.assert_allclose(nhwc(host)[0], want, rtol=1.2e-7, atol=0)  # one float32 rounding
    got = run_graph(lambda g: network.onnx_net_rgb(g, network.onnx_image_input(g, "x", dtype)[1], n_color),
                    x=np.ascontiguousarray(x[None, ..., :n_color]))
    np.testing.assert_array_equal(got, host)  # the same float32 product: bit for bit


@pytest.mark.parametrize("iterations", [1, 8])
@pytest.mark.parametrize("n_color", [1, 3])
@pytest.mark.parametrize("strength", [1.0, 0.6, 1.7])
def test_network_maps(rng, iterations, n_color, strength):
    """The network's maps scaled by ``strength``, bounded to [-1, 1] and, for gray images, averaged per curve."""
    raw = rng.uniform(-1.05, 1.05, (11, 9, 3 * iterations)).astype(np.float32)  # ORT's tanh can overshoot 1
    want = network.reference_finish_maps(raw, n_color, strength)
    assert want.shape == (11, 9, iterations * n_color)
    assert want.min() == -1 and want.max() == 1 if strength > 1 else np.abs(want).max() <= 1

    host = network.finish_maps(raw.copy(), n_color, strength)
    np.testing.assert_allclose(host, want, atol=1.2e-7, rtol=0)

    def build(g):
        maps = [network.onnx_finish_alphas(g, g.slice("a", 3 * i, 3 * i + 3, 1), "strength", n_color)
                for i in range(iterations)]
        return maps[0] if iterations == 1 else g.op("Concat", *maps, axis=1)

    got = run_graph(build, a=nchw(raw[None]), strength=np.array(strength, np.float32))
    np.testing.assert_array_equal(nhwc(got)[0], host)  # the same float32 operations in the same order


# --- the learned denoiser ------------------------------------------------------------------------------------------


def test_learned(rng):
    """The bundled network on ONNX Runtime (float32, in bands of rows) against its torch twin in float64.

    No ONNX builder: the learned denoiser runs on the host path only (``enhance(denoiser="learned")``).
    """
    from skdce.models import weights_dir
    from skdce.train.denoiser import net_from_onnx

    record = learned.denoiser_record()
    if record["precision"] != "fp32":  # pragma: no cover - depends on the bundled file
        pytest.skip("the bundled denoiser is int8")
    y = np.clip(0.4 + 0.05 * rng.standard_normal((45, 31, 3)), 0, 1).astype(np.float32)
    n = (0.05 * rng.random((45, 31))).astype(np.float32)
    twin = net_from_onnx(weights_dir() / record["file"]).double()
    with torch.no_grad():
        x = np.concatenate([y, n[..., None]], axis=-1).astype(np.float64)
        want = np.clip(nhwc(twin(torch.from_numpy(nchw(x[None]))).numpy())[0], 0, 1)
    assert np.abs(want - y).max() > 0.01  # it filters

    host = learned.learned_denoise_block(y, n, 2)  # two bands of rows, joined with LEARNED_HALO rows of context
    np.testing.assert_allclose(host, want, atol=1e-6, rtol=0)
    gray = learned.learned_denoise_block(y[..., :1], n, 1)  # one channel: run as three equal ones, averaged
    with torch.no_grad():
        x = np.concatenate([np.repeat(y[..., :1], 3, axis=-1), n[..., None]], axis=-1).astype(np.float64)
        want = np.clip(nhwc(twin(torch.from_numpy(nchw(x[None]))).numpy())[0], 0, 1).mean(axis=-1, keepdims=True)
    np.testing.assert_allclose(gray, want, atol=1e-6, rtol=0)
