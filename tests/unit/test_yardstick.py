"""The sample-quality yardstick: its classifier and cache, its formulas, and the issue's sanity checks.

Real digits are the 1,000 held-out test digits (offline: the fallback split), never the classifier's
training digits. Each sanity check also runs on a broken variant and must reject it (the check can fail):

- classifier accuracy: an untrained classifier;
- real vs real near zero: a Fréchet distance whose cross term is 2% off (an unconverged square root);
- growth under corruption: features taken from the classifier's output probabilities, which a good
  classifier makes blind to mild corruption;
- one-class generator: an untrained classifier (effective classes) and PRDC with real/fake swapped.
"""

from __future__ import annotations

import importlib
import math

import numpy as np
import pytest
import torch
import torchvision.transforms.functional as TF
from scipy import linalg

import labutils
from labutils import data, results
from labutils import sample_quality as _top_level_function
from labutils.yardstick import (
    CONFIG,
    accuracy,
    class_spread,
    embed,
    frechet_distance,
    load_classifier,
    prdc,
)

SQ = importlib.import_module("labutils.yardstick")
# "untrained classifier" below: SQ._build_net(CONFIG), the seeded initial weights the training starts from
Q = 1 / 10  # one class's share of the (balanced) real digits
SPLITS = 20  # random disjoint splits of the test digits for the real-vs-real statistics


@pytest.fixture(scope="module")
def yardstick():
    return load_classifier(progress=False)  # trained once per machine into build/cache, then loaded


@pytest.fixture(scope="module")
def test_digits():
    """1,000 class-balanced held-out digits: all of them offline, a subset online (one sample size everywhere)."""
    return data.load_mnist("test", n=1000, seed=0, verbose=False)


@pytest.fixture(scope="module")
def halves(test_digits):
    """Disjoint halves of the test digits: A is the real reference, B the source of "generated" digits."""
    perm = torch.randperm(len(test_digits), generator=torch.Generator().manual_seed(1))
    a, b = perm[: len(perm) // 2], perm[len(perm) // 2:]
    return test_digits.x[a], test_digits.x[b], test_digits.y[b]


def real_vs_real(feats: torch.Tensor, frechet=frechet_distance) -> tuple[torch.Tensor, torch.Tensor]:
    """Fréchet distances between disjoint random halves (n = 500) and quarters (n = 250) of feats: (SPLITS,) each."""
    g, n = torch.Generator().manual_seed(0), len(feats)
    f_half, f_quarter = [], []
    for _ in range(SPLITS):
        p = torch.randperm(n, generator=g)
        f_half.append(frechet(feats[p[: n // 2]], feats[p[n // 2:]]))
        f_quarter.append(frechet(feats[p[: n // 4]], feats[p[n // 4: n // 2]]))
    return torch.tensor(f_half, dtype=torch.float64), torch.tensor(f_quarter, dtype=torch.float64)


# --- the classifier ------------------------------------------------------------------------------------------


def test_classifier_beats_nearest_neighbour_on_pixels(yardstick):
    """Bound: a 1-nearest-neighbour rule on raw pixels, same training digits, same test digits."""
    test_digits = data.load_mnist("test", verbose=False)  # the whole test split, as in the stored accuracy
    train_digits = data.load_mnist("train", n=CONFIG["n_train"], seed=CONFIG["seed"], verbose=False)
    nearest = torch.cdist(test_digits.x.flatten(1), train_digits.x.flatten(1)).argmin(1)  # (1000,)
    bound = float((train_digits.y[nearest] == test_digits.y).double().mean())
    acc = accuracy(yardstick.net, test_digits)
    print(f"held-out accuracy {acc:.3f} vs pixel 1-NN {bound:.3f} ({len(test_digits)} test digits)")
    assert acc == yardstick.test_accuracy  # the accuracy stored with the cache is this one
    assert acc > bound
    assert accuracy(SQ._build_net(CONFIG), test_digits) < bound  # can fail: an untrained classifier


def test_classifier_cache_is_keyed_safe_and_reused(yardstick, monkeypatch):
    assert yardstick.path.parent == results.build_dir() / "cache" and yardstick.path.is_file()
    state = torch.load(yardstick.path, map_location="cpu", weights_only=True)  # plain tensors and numbers only
    assert state["step"] == CONFIG["epochs"] and len(state["snapshots"]) == CONFIG["epochs"]
    monkeypatch.setattr(SQ, "_loaded", {})  # forget the in-process copy: the file must be loaded, not retrained
    again = load_classifier(progress=False)
    assert again.from_cache and again.test_accuracy == yardstick.test_accuracy
    for (name, w), w2 in zip(yardstick.net.state_dict().items(), again.net.state_dict().values(), strict=True):
        assert torch.equal(w, w2), name
    assert again.path == yardstick.path and yardstick.path.name.startswith("yardstick-classifier-")


@pytest.mark.slow
def test_classifier_training_is_deterministic(yardstick, build, monkeypatch):
    monkeypatch.setattr(SQ, "_loaded", {})
    with torch.no_grad():  # a lab may ask for its first score inside no_grad: training must still work
        fresh = load_classifier(progress=False)  # trains again in the private build folder
    assert not fresh.from_cache and fresh.path != yardstick.path
    for w, w2 in zip(yardstick.net.state_dict().values(), fresh.net.state_dict().values(), strict=True):
        assert torch.equal(w, w2)


# --- the formulas --------------------------------------------------------------------------------------------


def test_frechet_distance_matches_the_scipy_sqrtm_formula():
    g = torch.Generator().manual_seed(0)
    f1 = torch.randn(300, 16, generator=g, dtype=torch.float64) @ torch.randn(16, 16, generator=g, dtype=torch.float64)
    f2 = torch.randn(200, 16, generator=g, dtype=torch.float64) * 2 + 1
    # pytorch-fid's formula: |mu1 - mu2|^2 + tr(S1 + S2 - 2 sqrtm(S1 S2))
    s1, s2 = np.cov(f1.numpy(), rowvar=False), np.cov(f2.numpy(), rowvar=False)
    ref = ((f1.mean(0) - f2.mean(0)) ** 2).sum().item() + np.trace(s1 + s2 - 2 * linalg.sqrtm(s1 @ s2).real)
    assert frechet_distance(f1, f2) == pytest.approx(ref, rel=1e-9)
    assert frechet_distance(f1, f1) == pytest.approx(0.0, abs=1e-9 * ref)
    few = f1[:10]  # 10 points in 16 dimensions: a singular covariance, still a finite, non-negative distance
    assert 0.0 <= frechet_distance(few, f2) < float("inf")


def _prdc_reference(real: np.ndarray, fake: np.ndarray, k: int) -> dict[str, float]:
    """clovaai/prdc 0.2's compute_prdc, transcribed (full distance matrices)."""
    def radii(x):
        d = np.linalg.norm(x[:, None] - x[None], axis=-1)
        return np.take_along_axis(d, np.argpartition(d, k + 1, axis=-1)[..., : k + 1], axis=-1).max(-1)
    r_real, r_fake = radii(real), radii(fake)
    d = np.linalg.norm(real[:, None] - fake[None], axis=-1)  # (N, M)
    return {"precision": (d < r_real[:, None]).any(0).mean(), "recall": (d < r_fake[None]).any(1).mean(),
            "density": (1 / k) * (d < r_real[:, None]).sum(0).mean(), "coverage": (d.min(1) < r_real).mean()}


def test_prdc_matches_the_reference_code_in_chunks():
    g = torch.Generator().manual_seed(0)
    real, fake = torch.randn(120, 8, generator=g), torch.randn(90, 8, generator=g) * 1.3 + 0.3
    ref = _prdc_reference(real.double().numpy(), fake.double().numpy(), k=5)
    for chunk_elems in (2**22, 500):  # one chunk; 4 fakes per chunk
        got = prdc(real, fake, k=5, chunk_elems=chunk_elems)
        assert got == pytest.approx(ref, abs=1e-12)


def test_class_spread_of_one_class_and_of_all_classes():
    one = class_spread(torch.nn.functional.one_hot(torch.full((50,), 3), 10).double())
    even = class_spread(torch.nn.functional.one_hot(torch.arange(50) % 10, 10).double())
    assert one["effective_classes"] == pytest.approx(1.0) and one["class_fractions"][3] == 1.0
    assert even["effective_classes"] == pytest.approx(10.0) and even["sample_entropy"] == pytest.approx(0.0)
    assert even["classifier_score"] == pytest.approx(10.0)


# --- the sanity checks -------------------------------------------------------------------------------


def test_real_vs_real_is_only_finite_sample_bias(yardstick, test_digits):
    """Fréchet distance between disjoint real samples of n is bias ~ c / n (its mean term exactly so):
    F_n = F_inf + c / n with F_inf = 0. Extrapolating from n = 500 and 250 (Chong & Forsyth 2020),
    F_inf = 2 F_500 - F_250 must be zero within 3 standard errors over the random splits."""
    feats, _ = embed(yardstick.net, test_digits.x)

    def extrapolated(frechet):
        f_half, f_quarter = real_vs_real(feats, frechet)
        f_inf = 2 * f_half - f_quarter  # (SPLITS,)
        return f_half, f_quarter, float(f_inf.mean()), float(f_inf.std() / math.sqrt(SPLITS))

    f_half, f_quarter, f_inf, se = extrapolated(frechet_distance)
    print(f"real vs real: F_500 {f_half.mean():.1f} ± {f_half.std():.1f}, F_250 {f_quarter.mean():.1f}, "
          f"F_inf {f_inf:.1f} ± {se:.1f} (SE)")
    assert abs(f_inf) < 3 * se
    assert f_quarter.mean() > f_half.mean()  # the bias shrinks as n grows

    def off_by_2_percent(f1, f2):  # the cross term 2% short, as an unconverged matrix square root leaves it
        return frechet_distance(f1, f2) + 0.02 * 2 * _cross_term(f1, f2)

    _, _, bad_inf, bad_se = extrapolated(off_by_2_percent)
    assert abs(bad_inf) > 3 * bad_se  # can fail


def _cross_term(f1: torch.Tensor, f2: torch.Tensor) -> float:
    """tr((S1^1/2 S2 S1^1/2)^1/2), recovered from the distance: F - |mu1 - mu2|^2 - tr S1 - tr S2 = -2 cross."""
    s1, s2 = torch.cov(f1.T), torch.cov(f2.T)
    rest = float((f1.mean(0) - f2.mean(0)).square().sum() + s1.trace() + s2.trace())
    return (rest - frechet_distance(f1, f2)) / 2


def noise(x: torch.Tensor, sigma: float) -> torch.Tensor:
    return (x + sigma * torch.randn(x.shape, generator=torch.Generator().manual_seed(2))).clamp(0, 1)


def blur(x: torch.Tensor, sigma: float) -> torch.Tensor:
    return x if sigma == 0 else TF.gaussian_blur(x, 2 * math.ceil(3 * sigma) + 1, sigma)


def blank(x: torch.Tensor, rows: int) -> torch.Tensor:
    x = x.clone()
    x[:, :, x.shape[2] - rows:, :] = 0.0  # the bottom rows go black
    return x


CORRUPTIONS = {"noise": (noise, [0, 0.2, 0.35, 0.5]),  # Gaussian noise sigma, clipped to [0, 1]
               "blur": (blur, [0, 0.75, 1.25, 2.0]),  # Gaussian blur sigma in pixels
               "blank": (blank, [0, 7, 10, 14])}  # bottom rows set to 0 (a quarter, a third, half)


def grows(features, corrupt, levels, halves, test_digits) -> tuple[bool, list[float], float]:
    """Does F(corrupted B, A) rise by more than 3 sd of real-vs-real F (n = 500) at every level step?"""
    a, b, _ = halves
    f_a = features(a)
    dist = [frechet_distance(features(corrupt(b, level)), f_a) for level in levels]
    null_sd = float(real_vs_real(features(test_digits.x))[0].std())
    return all(hi - lo > 3 * null_sd for lo, hi in zip(dist, dist[1:])), dist, null_sd


@pytest.mark.parametrize("kind", list(CORRUPTIONS))
def test_frechet_grows_with_corruption(kind, yardstick, halves, test_digits):
    corrupt, levels = CORRUPTIONS[kind]
    ok, dist, null_sd = grows(lambda x: embed(yardstick.net, x)[0], corrupt, levels, halves, test_digits)
    print(f"{kind} {levels}: F = {[round(d, 1) for d in dist]} (real-vs-real sd {null_sd:.1f})")
    assert ok
    if kind != "blank":  # can fail: the class probabilities barely move under mild noise or blur
        assert not grows(lambda x: embed(yardstick.net, x)[1], corrupt, levels, halves, test_digits)[0]


def test_one_class_generator_has_precision_but_no_recall(yardstick, halves):
    """A "generator" emitting only real 1s. Bounds from the class share Q = 1/10: recall and coverage
    below 2Q (it would need a second whole class to reach it); effective classes below
    exp(h(Q) + Q log 9), the most a distribution with at least 1 - Q of its mass on one class can
    have (Fano); precision no lower than real digits' own precision minus 3 binomial standard errors."""
    a, b, y_b = halves
    ones = b[y_b == 1]
    control = labutils.sample_quality(b, a)  # all classes
    one = labutils.sample_quality(ones, a)
    h = -Q * math.log(Q) - (1 - Q) * math.log(1 - Q)
    max_classes = math.exp(h + Q * math.log(9))
    p_ref = control["precision"]
    min_precision = p_ref - 3 * math.sqrt(p_ref * (1 - p_ref) / len(ones))

    def one_class_verdict(s):
        return (s["precision"] >= min_precision, s["recall"] < 2 * Q, s["coverage"] < 2 * Q,
                s["effective_classes"] < max_classes)

    print(f"{len(ones)} ones vs {len(a)} real: " + ", ".join(
        f"{k} {one[k]:.3f} (all classes {control[k]:.3f})"
        for k in ("precision", "recall", "density", "coverage", "effective_classes", "frechet")))
    print(f"bounds: precision >= {min_precision:.3f}, recall/coverage < {2 * Q}, effective classes < {max_classes:.2f}")
    assert one_class_verdict(one) == (True, True, True, True)
    assert one_class_verdict(control)[1:] == (False, False, False)  # the bounds separate one class from all
    # can fail: an untrained classifier's near-uniform outputs give about 10 effective classes
    untrained = labutils.sample_quality(ones, a, classifier=SQ._build_net(CONFIG))
    assert not one_class_verdict(untrained)[3]
    # can fail: PRDC with real and fake swapped reports the 1s' recall as their precision
    swapped = prdc(embed(yardstick.net, ones)[0], embed(yardstick.net, a)[0])
    assert not one_class_verdict({**one, **swapped})[0]


# --- the API -------------------------------------------------------------------------------------------------


def test_top_level_function_and_its_keys(halves):
    a, b, _ = halves
    assert _top_level_function is labutils.sample_quality and callable(labutils.sample_quality)
    s = labutils.sample_quality(b[:100], a)
    assert {"frechet", "precision", "recall", "density", "coverage", "effective_classes", "class_entropy",
            "sample_entropy", "classifier_score", "class_fractions", "k", "n_fake", "n_real"} <= set(s)
    assert (s["n_fake"], s["n_real"], s["k"], len(s["class_fractions"])) == (100, 500, 5, 10)
    assert all(isinstance(s[k], float) for k in ("frechet", "precision", "recall", "density", "coverage"))


@pytest.mark.parametrize("bad, match", [
    (torch.rand(50, 784), r"shape \(N, 1, 28, 28\), got \(50, 784\); reshape"),
    ((torch.rand(50, 1, 28, 28) * 255).to(torch.uint8), r"dtype torch.uint8.*float\(\) / 255"),
    (torch.rand(50, 1, 28, 28) * 2 - 1, r"pixels in \[-.*\(fake \+ 1\) / 2"),
    (torch.full((50, 1, 28, 28), float("nan")), "NaN"),
    (torch.rand(5, 1, 28, 28), "has 5 digits"),
    ([[0.5]], "must be a torch.Tensor"),
])
def test_bad_input_is_named(bad, match, halves):
    with pytest.raises(ValueError, match=match):
        labutils.sample_quality(bad, halves[0])


def test_bad_k_is_named(halves):
    with pytest.raises(ValueError, match="k=0"):
        labutils.sample_quality(halves[1], halves[0], k=0)


def test_bootstrap_standard_errors_are_seeded_and_shrink_with_more_fakes(halves):
    """sample_quality_se: the same seed gives the same errors; 4x the fakes about halves the Fréchet error."""
    real, fake, _ = halves
    small = SQ.sample_quality_se(fake[:100], real, n_boot=30, seed=3)
    assert small == SQ.sample_quality_se(fake[:100], real, n_boot=30, seed=3)
    assert set(small) == set(SQ.BOOTSTRAP_KEYS) and all(v > 0 for v in small.values()), small
    large = SQ.sample_quality_se(fake[:400], real, n_boot=30, seed=3)
    assert large["frechet"] < 0.75 * small["frechet"], (small, large)  # 1/sqrt(4) = 0.5, with room for noise
    assert large["precision"] < small["precision"], (small, large)
