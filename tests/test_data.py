"""skdce.data: the low-light model (darken) against its documented formula, and the bundled samples."""

import numpy as np
import pytest

from skdce.data import SAMPLES, darken, low_light_sample


def test_noise_free_darkening_is_the_formula(rng):
    x = rng.random((9, 11, 3))
    got = darken(x, gain=0.12, gamma=2.2, photons=None, read_noise=0)
    assert got.dtype == np.float32 and got.shape == x.shape
    np.testing.assert_allclose(got, (x**2.2 * 0.12) ** (1 / 2.2), rtol=1e-6)


def test_integer_input_is_scaled_by_its_maximum():
    kw = dict(photons=None, read_noise=0)
    np.testing.assert_array_equal(darken(np.full((4, 4, 3), 255, np.uint8), **kw), darken(np.ones((4, 4, 3)), **kw))
    np.testing.assert_array_equal(darken(np.full((4, 4, 3), 65535, np.uint16), **kw), darken(np.ones((4, 4, 3)), **kw))


def test_noise_is_seeded_and_unbiased():
    x = np.full((200, 200, 3), 0.5)
    a, b, c = darken(x, seed=1), darken(x, seed=1), darken(x, seed=2)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    assert 0.0 <= a.min() and a.max() <= 1.0
    clean = darken(x, photons=None, read_noise=0)[0, 0, 0]
    assert a.std() > 0.01  # 400 photo-electrons at full scale: visible shot noise
    lin = (a.astype(np.float64) ** 2.2).mean()  # noise is zero-mean in linear light
    assert lin == pytest.approx(clean**2.2, rel=0.01)


@pytest.mark.parametrize("kwargs, match", [
    (dict(gain=0), "gain=0 is out of range: gain must be a real number > 0"),
    (dict(gamma=np.nan), "gamma=nan is not finite"),
    (dict(photons=0), "photons=0 is out of range: photons must be a real number > 0; or None"),
    (dict(read_noise=-0.1), r"read_noise=-0.1 is out of range: read_noise must be a real number >= 0"),
])
def test_bad_parameters(kwargs, match):
    with pytest.raises(ValueError, match=match):
        darken(np.zeros((4, 4, 3)), **kwargs)


def test_float_input_outside_unit_range_is_refused():
    with pytest.raises(ValueError, match=r"outside \[0, 1\]"):
        darken(np.full((4, 4, 3), 2.0))


@pytest.mark.parametrize("channel_axis, colour", [(-1, slice(0, 3)), (0, slice(0, 3)), (-1, slice(0, 1))])
def test_alpha_passes_through(rng, channel_axis, colour):
    x = rng.random((6, 7, 4 if colour.stop == 3 else 2))
    x = np.moveaxis(x, -1, channel_axis)
    got = darken(x, channel_axis=channel_axis, seed=3)
    alpha = np.take(x, [-1], axis=channel_axis)
    np.testing.assert_array_equal(np.take(got, [-1], axis=channel_axis), alpha.astype(np.float32))
    np.testing.assert_array_equal(np.take(got, range(colour.stop), axis=channel_axis),
                                  darken(np.take(x, range(colour.stop), axis=channel_axis), channel_axis=channel_axis,
                                         seed=3))  # the colour channels as without alpha
    u = np.zeros((3, 3, 4), np.uint8)
    u[..., 3] = 255
    assert darken(u)[..., 3].tolist() == np.ones((3, 3)).tolist()


def test_grayscale_needs_channel_axis_none(rng):
    x = rng.random((6, 7))
    assert darken(x, channel_axis=None).shape == x.shape
    with pytest.raises(ValueError, match=r"image has shape \(6, 7\); .* pass channel_axis=None"):
        darken(x)
    with pytest.raises(ValueError, match=r"image has shape \(42,\); with channel_axis=None it must be grayscale"):
        darken(x.ravel(), channel_axis=None)


def test_file_name_is_refused():
    with pytest.raises(TypeError, match=r"image is a str \('a.png'\); skdce.data.darken takes an image array"):
        darken("a.png")


@pytest.mark.parametrize("seed, exc, match", [
    ("a", TypeError, r"seed='a' \(str\) must be an integer >= 0; or a numpy.random.Generator, or None"),
    (1.5, TypeError, r"seed=1.5 \(float\) must be an integer >= 0"),
    (True, TypeError, r"seed=True \(bool\) must be an integer >= 0"),
    (-1, ValueError, r"seed=-1 is out of range: seed must be an integer >= 0"),
])
def test_bad_seed(seed, exc, match):
    with pytest.raises(exc, match=match):
        darken(np.zeros((4, 4, 3)), seed=seed)


def test_seeds_as_documented():
    x = np.full((4, 4, 3), 0.5)
    np.testing.assert_array_equal(darken(x, seed=np.uint8(4)), darken(x, seed=4))
    np.testing.assert_array_equal(darken(x, seed=np.random.default_rng(4)), darken(x, seed=4))
    assert darken(x, seed=None).shape == x.shape


@pytest.mark.parametrize("kwargs, match", [
    (dict(photons=1e300), r"photons=1e\+300 is out of range: photons must be at most 1e\+12 .*; or None"),
    (dict(photons=1e12, gain=10.0), r"gain \* photons = 1e\+13 photo-electrons at white .* is more than 1e\+12"),
])
def test_photons_are_bounded(kwargs, match):
    with pytest.raises(ValueError, match=match):
        darken(np.ones((4, 4, 3)), **kwargs)
    kwargs["photons"] = 1e12 / kwargs.get("gain", 1.0)  # the bound itself is fine
    assert darken(np.ones((4, 4, 3)), **kwargs).max() <= 1


@pytest.mark.parametrize("name", SAMPLES)
def test_samples_are_dark_rgb(name):
    import skimage.data as skimage_data  # scikit-image is a dependency of skdce

    img = low_light_sample(name)
    bright = getattr(skimage_data, name)()
    assert img.dtype == np.uint8 and img.shape == bright.shape[:2] + (3,)
    assert img.mean() < 0.6 * bright[..., :3].mean()
    np.testing.assert_array_equal(img, low_light_sample(name))  # seeded


def test_unknown_sample():
    with pytest.raises(ValueError, match="sample 'moon' is unknown; choose one of astronaut, chelsea"):
        low_light_sample("moon")


@pytest.mark.parametrize("kwargs, match", [
    (dict(image=np.zeros((24, 32))), r"shape \(24, 32\); write_dng takes \(H, W, 3\)"),
    (dict(image=np.zeros((20, 32, 3))), "at least 22"),
    (dict(image=np.zeros((24, 31, 3))), "H and W even"),
    (dict(pattern="RGBG"), "pattern='RGBG' is not a Bayer pattern"),
    (dict(bits=18), r"bits=18 is out of range: bits must be an integer in \[8, 16\]"),
    (dict(bits=12, black_level=4000), r"black_level=4000 is out of range: .* integer in \[0, 2046\]"),
    (dict(bits=12, black_level=-1), r"black_level=-1 is out of range"),
    (dict(gains=(1.2, 1, 1)), r"gains=.* must be three numbers in \(0, 1\]"),
    (dict(as_shot_neutral=(1, 0, 1)), "as_shot_neutral=.* must be three positive numbers"),
    (dict(orientation=9), r"orientation=9 is out of range: orientation must be an integer in \[1, 8\]"),
    (dict(as_shot_neutral=(np.inf, 1, 1)), "as_shot_neutral=.* must be three positive numbers"),
    (dict(exposure_time=-1), "exposure_time=-1 is out of range: exposure_time must be a real number > 0; seconds"),
    (dict(exposure_time=np.nan), "exposure_time=nan is not finite"),
    (dict(iso=float("nan")), r"iso=nan is not finite: iso must be a real number in \[1, 65535\]"),
    (dict(iso=1e5), r"iso=100000.0 is out of range: iso must be a real number in \[1, 65535\]"),
    (dict(image=np.full((24, 32, 3), np.nan)), "image contains NaN"),
    (dict(image=np.full((24, 32, 3), np.inf)), "image contains inf"),
    (dict(image=np.full((24, 32, 3), -0.1)), r"image has values down to -0.1; write_dng takes scene-linear light >= 0"),
])
def test_write_dng_bad_parameters(tmp_path, kwargs, match):
    from skdce.data import write_dng

    kwargs = {"image": np.zeros((24, 32, 3)), **kwargs}
    with pytest.raises(ValueError, match=match):
        write_dng(tmp_path / "x.dng", **kwargs)
    assert not list(tmp_path.iterdir())


def test_write_dng_mosaic_and_tags(tmp_path):
    import tifffile

    from skdce.data import write_dng

    image = np.zeros((24, 32, 3))
    image[..., 0], image[..., 1], image[..., 2] = 0.25, 0.5, 1.0
    write_dng(tmp_path / "x.dng", image, pattern="GBRG", bits=12, black_level=100, gains=(0.5, 1.0, 0.8))
    with tifffile.TiffFile(tmp_path / "x.dng") as tf:
        page = tf.pages.first
        mosaic, tags = page.asarray(), {tag.code: tag.value for tag in page.tags.values()}
    white = 4095
    expected = np.round(100 + np.array([[0.5, 0.8], [0.125, 0.5]]) * (white - 100))  # G B / R G
    np.testing.assert_array_equal(mosaic[:2, :2], expected)
    assert tuple(tags[33422]) == (1, 2, 0, 1) and tags[50717] == white and tags[50714] == 100 and tags[262] == 32803
    with pytest.raises(FileExistsError):
        write_dng(tmp_path / "x.dng", image)


@pytest.mark.parametrize("kwargs, match", [
    (dict(bits=12.0), r"bits=12.0 \(float\) must be an integer in \[8, 16\]"),
    (dict(bits=True), r"bits=True \(bool\) must be an integer"),
    (dict(black_level="5"), r"black_level='5' \(str\) must be an integer"),
    (dict(iso="400"), r"iso='400' \(str\) must be a real number"),
    (dict(datetime="2024:01:02"), r"datetime='2024:01:02' \(str\) must be a datetime.datetime or None"),
    (dict(image=np.zeros((24, 32, 3), np.int16)), "image has signed integer dtype int16"),
    (dict(image="a.tif"), r"image is a str \('a.tif'\); skdce.data.write_dng takes an image array"),
])
def test_write_dng_bad_types(tmp_path, kwargs, match):
    from skdce.data import write_dng

    kwargs = {"image": np.zeros((24, 32, 3)), **kwargs}
    with pytest.raises(TypeError, match=match):
        write_dng(tmp_path / "x.dng", **kwargs)
    assert not list(tmp_path.iterdir())


def _mosaic_and_tags(path):
    import tifffile

    with tifffile.TiffFile(path) as tf:
        page = tf.pages.first
        return page.asarray(), {tag.code: tag.value for tag in page.tags.values()}


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
def test_write_dng_scales_integer_images(tmp_path, dtype):
    from skdce.data import write_dng

    top = np.iinfo(dtype).max
    values = np.array([0, 46, top // 2, top], dtype)
    image = np.broadcast_to(np.repeat(values, 8)[None, :, None], (24, 32, 3))
    got, _ = _mosaic_and_tags(write_dng(tmp_path / "int.dng", image, bits=16))
    want, _ = _mosaic_and_tags(write_dng(tmp_path / "float.dng", image / top, bits=16))
    np.testing.assert_array_equal(got, want)
    assert got[0, 8] == round(46 / top * 65535) and got[0, -1] == 65535  # 46 is 46/255, not white


def test_write_dng_takes_numpy_integers(tmp_path):
    from skdce.data import write_dng

    image = np.full((24, 32, 3), 0.3)
    a = write_dng(tmp_path / "a.dng", image, bits=np.int64(12), black_level=np.uint16(5), orientation=np.int8(3))
    b = write_dng(tmp_path / "b.dng", image, bits=12, black_level=5, orientation=3)
    assert a.read_bytes() == b.read_bytes()
    mosaic, tags = _mosaic_and_tags(a)
    assert tags[50717] == 4095 and tags[50714] == 5 and tags[274] == 3


def test_write_dng_clips_light_past_white_as_a_sensor(tmp_path):
    """Scene light above 1 (the white level) is a clipped highlight, documented; only NaN, inf, < 0 are refused."""
    from skdce.data import write_dng

    bright, _ = _mosaic_and_tags(write_dng(tmp_path / "bright.dng", np.full((24, 32, 3), 1.5), bits=12))
    white, _ = _mosaic_and_tags(write_dng(tmp_path / "white.dng", np.ones((24, 32, 3)), bits=12))
    np.testing.assert_array_equal(bright, white)
    assert bright.max() == 4095
