"""The NumPy losses: hand-computed values, batching, errors."""

import numpy as np
import pytest

from skdce import losses


def test_exposure_golden():
    # every 16x16 patch has mean 0.5: (0.5 - 0.6)**2
    assert losses.exposure_control_loss(np.full((32, 48, 3), 0.5)) == pytest.approx(0.01, abs=1e-15)
    assert losses.exposure_control_loss(np.full((32, 48, 3), 0.5), level=0.5) == 0.0
    # patches 0.2 and 0.8 around E = 0.6: ((0.4)**2 + (0.2)**2) / 2 = 0.1; a 7-pixel remainder is dropped
    img = np.full((16, 39, 3), 0.8)
    img[:, :16] = 0.2
    assert losses.exposure_control_loss(img) == pytest.approx(0.1, abs=1e-15)


def test_color_golden():
    img = np.zeros((4, 4, 3))
    img[..., 0] = 0.5
    # sqrt(0.5**4 + 0.5**4 + 0) = sqrt(0.125)
    assert losses.color_constancy_loss(img) == pytest.approx(np.sqrt(0.125), abs=1e-15)
    assert losses.color_constancy_loss(np.full((4, 4, 3), 0.3)) == 0.0


def test_spatial_golden():
    # pooled (4x4) difference D = [[0.4, 0]]: region 0 differs from its 4 (zero-padded or zero)
    # neighbours by 0.4 -> 4 * 0.16; region 1 only from its left neighbour -> 0.16; mean = 0.4
    original = np.zeros((4, 8, 3))
    enhanced = np.zeros((4, 8, 3))
    enhanced[:, :4] = 0.4
    assert losses.spatial_consistency_loss(enhanced, original) == pytest.approx(0.4, abs=1e-12)
    assert losses.spatial_consistency_loss(original, original) == 0.0


def test_smoothness_golden():
    a = np.zeros((2, 2, 1))
    a[1] = 1.0
    # vertical: 2 squared steps of 1 / ((2 - 1) * 2) = 1; horizontal 0 -> 2 * (1 + 0) / 1
    assert losses.illumination_smoothness_loss(a) == pytest.approx(2.0)
    # summed over maps, averaged over the batch
    b = np.concatenate([a, a], axis=-1)
    assert losses.illumination_smoothness_loss(b) == pytest.approx(4.0)
    assert losses.illumination_smoothness_loss(np.stack([b, np.zeros_like(b)])) == pytest.approx(2.0)


def test_total_weights(rng):
    img = rng.random((32, 32, 3)) * 0.3
    enh = np.sqrt(img)
    a = rng.uniform(-1, 1, (32, 32, 24))
    t = losses.zero_reference_loss(enh, img, a)
    assert t.total == pytest.approx(t.spatial + t.exposure + t.color + t.smoothness)
    assert t.exposure == pytest.approx(10 * losses.exposure_control_loss(enh))
    assert t.color == pytest.approx(5 * losses.color_constancy_loss(enh))
    assert t.smoothness == pytest.approx(200 * losses.illumination_smoothness_loss(a))
    assert t.spatial == pytest.approx(losses.spatial_consistency_loss(enh, img))
    t2 = losses.zero_reference_loss(enh, img, a, weights={"smoothness": 0}, level=0.5)
    assert t2.smoothness == 0 and t2.exposure == pytest.approx(10 * losses.exposure_control_loss(enh, level=0.5))


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.float32, np.float64])
def test_dtypes_agree(rng, dtype):
    img8 = rng.integers(0, 256, (32, 32, 3)).astype(np.uint8)
    ref = losses.exposure_control_loss(img8.astype(np.float64) / 255)
    if dtype == np.uint16:
        img = img8.astype(np.uint16) * 257
    elif dtype == np.uint8:
        img = img8
    else:
        img = (img8 / 255).astype(dtype)
    assert losses.exposure_control_loss(img) == pytest.approx(ref, rel=1e-6)


def test_channel_axis_and_batches(rng):
    imgs = rng.random((2, 32, 32, 3))
    first = losses.color_constancy_loss(imgs[0])
    second = losses.color_constancy_loss(imgs[1])
    assert losses.color_constancy_loss(imgs) == pytest.approx((first + second) / 2)
    assert losses.color_constancy_loss(np.moveaxis(imgs, -1, 1), channel_axis=1) == pytest.approx((first + second) / 2)


@pytest.mark.parametrize(
    "call, exc, match",
    [
        (lambda: losses.exposure_control_loss(np.zeros((8, 8, 3))), ValueError,
         "enhanced is 8x8 pixels, smaller than one 16x16 patch"),
        (lambda: losses.exposure_control_loss(np.zeros((16, 16, 3)), level=np.nan), ValueError,
         "level=nan is not finite: level must be a real number"),
        (lambda: losses.color_constancy_loss(np.zeros((8, 8, 4))), ValueError,
         "enhanced has 4 channels; the losses take RGB"),
        (lambda: losses.spatial_consistency_loss(np.zeros((8, 8, 3)), np.zeros((8, 12, 3))), ValueError,
         "must have the same shape"),
        (lambda: losses.spatial_consistency_loss(np.zeros((8, 8, 3)), np.zeros((8, 8, 3)), pool_size=0), ValueError,
         "pool_size=0 is out of range: pool_size must be an integer >= 1"),
        (lambda: losses.color_constancy_loss(np.full((4, 4, 3), 2.0)), ValueError,
         r"enhanced has values in \[2, 2\], outside \[0, 1\]"),
        (lambda: losses.illumination_smoothness_loss(np.zeros((1, 5, 3))), ValueError, "alphas maps are 1x5"),
        (lambda: losses.illumination_smoothness_loss(np.zeros((4, 4))), ValueError,
         "pass \\(H, W, K\\) or \\(N, H, W, K\\)"),
        (lambda: losses.illumination_smoothness_loss(np.full((4, 4, 3), np.inf)), ValueError,
         "alphas contains NaN or inf"),
        (lambda: losses.zero_reference_loss(np.zeros((16, 16, 3)), np.zeros((16, 16, 3)), np.zeros((16, 16, 3)),
                                            weights={"spa": 1}), ValueError, "weights has unknown keys \\['spa'\\]"),
    ],
)
def test_errors(call, exc, match):
    with pytest.raises(exc, match=match):
        call()


def test_adaptive_color_weighs_darkness():
    cast = np.zeros((1, 8, 8, 3)) + [0.6, 0.4, 0.3]
    dark, dim, bright = (losses.adaptive_color_loss(cast, np.full((1, 8, 8), c), level=0.4) for c in (0.0, 0.2, 0.5))
    assert dark > dim > bright == 0.0  # a well-exposed photo's colour is its own
    assert dim == pytest.approx(0.5 * dark)
    linear = (np.array([0.6, 0.4, 0.3]) ** 2.2)
    d = linear[:, None] - linear[None, :]
    assert dark == pytest.approx(np.sqrt(d[0, 1] ** 4 + d[0, 2] ** 4 + d[1, 2] ** 4))
    with pytest.raises(ValueError, match="pass the input's context"):
        losses.zero_reference_loss(cast, cast, np.zeros((1, 8, 8, 24)), color="adaptive")
    with pytest.raises(ValueError, match="color='sepia' is unknown"):
        losses.zero_reference_loss(cast, cast, np.zeros((1, 8, 8, 24)), color="sepia")


def test_soft_knee():
    img = np.full((1, 16, 16, 3), 0.3)
    target = lambda c, knee: losses.exposure_target(img, np.full((1, 16, 16), c), level=0.45, knee=knee)[0, 0, 0]  # noqa: E731
    ctx = np.linspace(0.05, 0.449, 30)
    lifts = [target(c, 0.2) / target(c, None) for c in ctx]  # the soft target never lifts more than the hard one
    assert all(x <= 1 + 1e-12 for x in lifts)
    assert target(0.1, 0.2) == pytest.approx(target(0.1, None))  # below the knee: the full lift
    assert target(0.3, 0.2) < target(0.3, None)
    assert target(0.449, 0.2) == pytest.approx(0.3, rel=1e-3)  # fades to no lift at the level
    # continuous in the context: no step that the network would learn as a seam
    fine = np.linspace(0.1, 0.5, 400)
    values = np.array([target(c, 0.2) for c in fine])
    assert np.abs(np.diff(values)).max() < 0.01
    with pytest.raises(ValueError, match=r"knee=0.5 is out of range: knee must be a real number in \(0, 0.45\)"):
        losses.exposure_target(img, np.full((1, 16, 16), 0.2), level=0.45, knee=0.5)


def test_adaptive_target_branches():
    img = np.full((1, 16, 16, 3), 0.2)
    kept = losses.exposure_target(img, np.full((1, 16, 16), 0.5), level=0.43, level_high=0.7)
    lifted = losses.exposure_target(img, np.full((1, 16, 16), 0.2), level=0.43, level_high=0.7)
    lowered = losses.exposure_target(np.full((1, 16, 16, 3), 0.9), np.full((1, 16, 16), 0.9), level=0.43,
                                     level_high=0.7)
    assert kept[0, 0, 0] == pytest.approx(0.2)  # well-exposed surroundings: the patch is its own target
    assert lifted[0, 0, 0] == pytest.approx(0.43)  # dark surroundings: lifted to the level
    assert lowered[0, 0, 0] == pytest.approx(0.7)  # over-exposed: lowered to the upper level
    with pytest.raises(ValueError, match="0 < level < level_high < 1"):
        losses.exposure_target(img, np.full((1, 16, 16), 0.2), level=0.8, level_high=0.7)
    with pytest.raises(ValueError, match="context has shape"):
        losses.exposure_target(img, np.full((1, 8, 16), 0.2))



_IMG = np.zeros((16, 16, 3)) + [0.4, 0.3, 0.2]  # a warm cast: every colour term is non-zero when dark
_CONTEXT_USERS = {
    "exposure_target": lambda ctx: losses.exposure_target(_IMG, ctx),
    "adaptive_exposure_loss": lambda ctx: losses.adaptive_exposure_loss(_IMG, _IMG, ctx),
    "adaptive_color_loss": lambda ctx: losses.adaptive_color_loss(_IMG, ctx),
    "prior_color_loss": lambda ctx: losses.prior_color_loss(_IMG, ctx),
    "zero_reference_loss": lambda ctx: losses.zero_reference_loss(_IMG, _IMG, np.zeros((16, 16, 24)), context=ctx,
                                                                  color="prior").total,
}


@pytest.mark.parametrize("use", _CONTEXT_USERS.values(), ids=_CONTEXT_USERS.keys())
@pytest.mark.parametrize("context, exc, match", [
    (np.full((16, 16), np.nan), ValueError, r"context contains NaN; replace it first"),
    (np.full((16, 16), np.inf), ValueError, r"context contains inf"),
    (np.full((16, 16), -0.5), ValueError, r"context has values in \[-0.5, -0.5\], outside \[0, 1\]; a context is a "
                                          r"brightness in \[0, 1\]; compute it with skdce.illumination_context"),
    (np.full((16, 16), 5.0), ValueError, r"context has values in \[5, 5\], outside \[0, 1\]"),
    (np.zeros((16, 16), complex), TypeError, "context has dtype complex128, which is not an image dtype"),
    (np.zeros((16, 16), bool), TypeError, "context has dtype bool, which is not an image dtype"),
    (np.zeros((16, 16), np.int16), TypeError, "context has signed integer dtype int16"),
    ("context.png", TypeError, "context is a str"),
])
def test_context_is_checked(use, context, exc, match):
    """The losses took any context: NaN gave a NaN loss, 5.0 and -0.5 were used, complex lost its imaginary part."""
    with pytest.raises(exc, match=match):
        use(context)


@pytest.mark.parametrize("use", _CONTEXT_USERS.values(), ids=_CONTEXT_USERS.keys())
@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
def test_integer_context_is_scaled_like_images(use, dtype):
    """uint8 200 is 200 / 255, not 200.0 (which gave the loss of any context above 1)."""
    top = np.iinfo(dtype).max
    ints = np.full((16, 16), top // 5 * 2, dtype)
    expected = use(ints.astype(np.float32) * np.float32(1 / top))
    assert np.array_equal(use(ints), expected)
    assert not np.array_equal(use(ints), use(np.full((16, 16), 0.9)))


@pytest.mark.parametrize("enhanced, original", [
    (np.full((20, 32, 3), 0.5), np.full((32, 32, 3), 0.2)),  # another size: the pooled grids happened to agree
    (np.full((2, 32, 32, 3), 0.5), np.full((32, 32, 3), 0.2)),  # a batch of 2 against 1: broadcast
])
def test_adaptive_exposure_compares_shapes(enhanced, original):
    with pytest.raises(ValueError, match=r"enhanced and original must have the same shape, got \(\d, \d\d, 32, 3\) and "
                                         r"\(1, 32, 32, 3\)"):
        losses.adaptive_exposure_loss(enhanced, original, np.full((32, 32), 0.2))


@pytest.mark.parametrize("loss", [losses.adaptive_color_loss, losses.prior_color_loss])
@pytest.mark.parametrize("level, exc, match", [
    (0, ValueError, r"level=0 is out of range: level must be a real number in \(0, 1\); the exposure level of "
                    r"exposure_target, e.g. 0.43."),
    (-1, ValueError, r"level=-1 is out of range: level must be a real number in \(0, 1\)"),
    (1.0, ValueError, r"level=1.0 is out of range"),
    (np.nan, ValueError, r"level=nan is not finite"),
    ("a", TypeError, r"level='a' \(str\) must be a real number in \(0, 1\)"),
    (None, TypeError, r"level=None \(NoneType\) must be a real number"),
])
def test_color_level_is_checked(loss, level, exc, match):
    """level=0 with a zero context gave NaN, nan gave NaN, -1 was taken, 'a' met numpy's ufunc error."""
    with pytest.raises(exc, match=match):
        loss(_IMG, np.zeros((16, 16)), level=level)


@pytest.mark.parametrize("alphas, kw, exc, match", [
    (np.zeros((4, 4, 3)), dict(channel_axis=7), ValueError,
     r"channel_axis=7 is out of range for alphas with 3 dimensions; name the axis of the K maps"),
    (np.zeros((4, 4, 3)), dict(channel_axis=1.5), TypeError,
     r"channel_axis=1.5 \(float\) must be an integer; the axis of the K maps"),
    (np.zeros((0, 4, 4, 3)), {}, ValueError, r"alphas is empty \(shape \(0, 4, 4, 3\)\)"),
    (np.full((4, 4, 3), 255, np.uint8), {}, TypeError, "alphas has dtype uint8; pass a float array of alpha maps"),
    (np.zeros((4, 4, 3), np.int32), {}, TypeError, "alphas has dtype int32"),
    (np.zeros((4, 4, 3), bool), {}, TypeError, "alphas has dtype bool"),
    (np.full((4, 4, 3), 5.0), {}, ValueError, r"alphas has values in \[5, 5\], outside \[-1, 1\]"),
    (np.full((4, 4, 3), -1.5), {}, ValueError, r"alphas has values in \[-1.5, -1.5\], outside \[-1, 1\]"),
    (np.full((4, 4, 3), np.nan), {}, ValueError, "alphas contains NaN or inf"),
])
def test_smoothness_checks_alphas(alphas, kw, exc, match):
    """channel_axis=7 met numpy's AxisError, 1.5 'float is not iterable', an empty batch gave NaN, uint8 was raw."""
    with pytest.raises(exc, match=match):
        losses.illumination_smoothness_loss(alphas, **kw)


def test_smoothness_takes_the_ends_of_the_range():
    a = np.zeros((2, 2, 1))
    a[1] = 1.0
    a[0] = -1.0
    assert losses.illumination_smoothness_loss(a) == pytest.approx(8.0)


def _total(alphas=None, **kw):
    img = np.full((32, 32, 3), 0.4)
    return losses.zero_reference_loss(img, img, np.zeros((32, 32, 24)) if alphas is None else alphas, **kw)


@pytest.mark.parametrize("weights, exc, match", [
    ({"spatial": np.nan}, ValueError, r"weights\['spatial'\]=nan is not finite: weights\['spatial'\] must be a real "
                                      r"number >= 0; a loss weight is a number >= 0 \(default 1; 0 drops the term\)"),
    ({"color": np.inf}, ValueError, r"weights\['color'\]=inf is not finite"),
    ({"spatial": -1}, ValueError, r"weights\['spatial'\]=-1 is out of range: weights\['spatial'\] must be a real "
                                  r"number >= 0"),
    ({"spatial": "x"}, TypeError, r"weights\['spatial'\]='x' \(str\) must be a real number >= 0"),
    ({"smoothness": None}, TypeError, r"weights\['smoothness'\]=None \(NoneType\)"),
    ({"spa": 1, 2: 0}, ValueError, r"weights has unknown keys \['spa', 2\]; valid keys are"),
    ([("spatial", 1)], TypeError, r"weights=\[\('spatial', 1\)\] \(list\) must be a dict of loss weights"),
])
def test_total_checks_weights(weights, exc, match):
    """nan gave a NaN total, 'x' "can't multiply sequence", negative weights were taken."""
    with pytest.raises(exc, match=match):
        _total(weights=weights)


@pytest.mark.parametrize("alphas, shape", [
    (np.zeros((8, 8, 24)), r"\(8, 8, 24\), \(1, 8, 8\)"),  # another size
    (np.zeros((3, 32, 32, 24)), r"\(3, 32, 32, 24\), \(3, 32, 32\)"),  # a batch of 3 for one image
    (np.zeros((32, 31, 24)), r"\(32, 31, 24\), \(1, 32, 31\)"),
])
def test_total_checks_alphas_against_images(alphas, shape):
    with pytest.raises(ValueError, match=f"alphas has shape {shape} as \\(N, H, W\\); it must match enhanced's "
                                         r"\(1, 32, 32\): pass the alpha maps that produced enhanced, at its size"):
        _total(alphas)


def test_total_alphas_laid_out_like_the_images(rng):
    imgs = rng.random((2, 32, 32, 3))
    a = rng.uniform(-1, 1, (2, 32, 32, 3))
    ref = losses.zero_reference_loss(imgs, imgs, a)
    nchw = losses.zero_reference_loss(np.moveaxis(imgs, -1, 1), np.moveaxis(imgs, -1, 1), np.moveaxis(a, -1, 1),
                                      channel_axis=1)
    assert nchw == ref
    one = losses.zero_reference_loss(imgs[0], imgs[0], a[:1])  # a batch of one against one image
    assert one == losses.zero_reference_loss(imgs[0], imgs[0], a[0])


@pytest.mark.parametrize("prior", [
    {"mean": (np.nan, 0.0), "cov": ((1.0, 0.0), (0.0, 1.0))},  # only cov was checked for finiteness: a NaN loss
    {"mean": (0.0, np.inf), "cov": ((1.0, 0.0), (0.0, 1.0))},
    {"mean": (0.0, 0.0), "cov": ((1.0, 0.5), (-0.5, 1.0))},  # asymmetric: eigvalsh read the lower triangle only
    {"mean": (0.0, 0.0), "cov": ((1.0, 2.0), (2.0, 1.0))},  # symmetric, not positive definite
    {"mean": (0.0, 0.0, 0.0), "cov": ((1.0, 0.0), (0.0, 1.0))},
])
def test_prior_is_checked(prior):
    with pytest.raises(ValueError, match="needs a finite 2-vector 'mean' and a symmetric positive-definite 2x2 'cov'"):
        losses.prior_color_loss(_IMG, np.zeros((16, 16)), prior=prior)


def test_prior_symmetric_up_to_rounding_is_taken():
    cov = np.array(losses.COLOR_PRIOR["cov"])
    cov[0, 1] += 1e-15
    prior = {"mean": losses.COLOR_PRIOR["mean"], "cov": cov}
    assert losses.prior_color_loss(_IMG, np.zeros((16, 16)), prior=prior) == pytest.approx(
        losses.prior_color_loss(_IMG, np.zeros((16, 16))), rel=1e-9)


def test_total_passes_its_level_to_the_adaptive_terms(rng):
    """As documented: with context, the default level 0.6 (not the adaptive terms' 0.43) reaches every term."""
    enh, orig = rng.random((32, 32, 3)), rng.random((32, 32, 3)) * 0.3
    ctx = rng.random((32, 32)) * 0.5
    t = losses.zero_reference_loss(enh, orig, np.zeros((32, 32, 24)), context=ctx, color="adaptive")
    assert t.exposure == 10 * losses.adaptive_exposure_loss(enh, orig, ctx, level=0.6)
    assert t.color == 5 * losses.adaptive_color_loss(enh, ctx, level=0.6)
    assert t.color != 5 * losses.adaptive_color_loss(enh, ctx)
    assert "whose own default is 0.43" in losses.zero_reference_loss.__doc__
