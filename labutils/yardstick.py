"""One yardstick for generated digits: a small MNIST classifier's features, and scores computed on them.

``labutils.sample_quality(fake, real)`` (this module's :func:`sample_quality`, exposed at the package
top level) scores a batch of generated digits against held-out real ones:

- ``frechet``: the Fréchet distance between Gaussians fitted to the two feature clouds (FID's formula
  on this classifier's features instead of Inception's), in squared feature units;
- ``precision``/``recall``/``density``/``coverage`` on the same features with k = 5 nearest neighbours
  (Kynkäänniemi et al. 2019; Naeem et al. 2020);
- ``effective_classes``: exp of the entropy of the mean class distribution, 1 (one digit class) to 10.

The classifier (:class:`DigitClassifier`, LeNet-sized, 64 features) is trained once per machine on
4,000 class-balanced training digits through :func:`labutils.train.fit` and cached like any other
model (``build/cache``, keyed on its settings and a digest of its training data, written atomically,
loaded with ``weights_only=True``). Real digits to score against are the held-out test digits,
``labutils.data.load_mnist("test").x``: offline, the 1,000 test digits of the fallback split. Never
repeat real digits to make a bigger reference: copies are each other's nearest neighbours, which
shrinks the k-NN radii and lowers precision, density and coverage (benchmarks/RESULTS.md).

For scale, two disjoint halves of the 1,000 test digits (500 each) score frechet 25 +- 7: pure
finite-sample bias, about 6,150 (1/M + 1/N) between real samples of M and N digits (measured for
M = N = 125..500), so compare Fréchet distances only at equal sample sizes. Precision, recall and
coverage are then about 0.95-0.98.

``labutils.sample_quality`` is this module's main function, exported at the package's top level; the
helpers are ``from labutils.yardstick import frechet_distance, prdc, load_classifier``.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from labutils import data, results, train

N_CLASSES = 10
K_NEAREST = 5
"""Nearest neighbours for precision/recall/density/coverage (Naeem et al. 2020 recommend k = 5)."""

CONFIG: dict[str, Any] = {
    "arch": "lenet", "channels": [16, 32], "feature_dim": 64,  # conv5-pool-conv5-pool-fc64-fc10
    "n_train": 4000, "epochs": 12, "batch_size": 32, "lr": 1e-3, "seed": 0, "version": 2,
}
"""How the yardstick's classifier is built and trained; the cache key (with the training data's digest)."""


class DigitClassifier(nn.Module):
    """LeNet-sized MNIST classifier: x (B, 1, 28, 28) in [0, 1] -> logits (B, 10); ``features`` -> (B, 64)."""

    def __init__(self, channels: tuple[int, int] = (16, 32), feature_dim: int = 64):
        super().__init__()
        c1, c2 = channels
        self.body = nn.Sequential(
            nn.Conv2d(1, c1, 5), nn.ReLU(), nn.MaxPool2d(2),  # (B, c1, 12, 12)
            nn.Conv2d(c1, c2, 5), nn.ReLU(), nn.MaxPool2d(2),  # (B, c2, 4, 4)
            nn.Flatten(), nn.Linear(c2 * 16, feature_dim),  # (B, feature_dim): the features
        )
        self.head = nn.Sequential(nn.ReLU(), nn.Linear(feature_dim, N_CLASSES))

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """(B, feature_dim) penultimate pre-activations: after ReLU a third of the units are 0 on every digit."""
        return self.body(x - 0.5)  # centred input

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


@dataclass
class Classifier:
    """The cached yardstick classifier, its accuracy on the held-out test digits (a fraction), and its file."""

    net: DigitClassifier
    test_accuracy: float
    path: Path | None
    from_cache: bool
    source: str


_loaded: dict[tuple[str, str, str], Classifier] = {}  # per (build folder, data folder, offline flag)


def _build_net(config: dict[str, Any]) -> DigitClassifier:
    with torch.random.fork_rng(devices=[]):  # seeded initial weights, the caller's RNG untouched
        torch.manual_seed(config["seed"])
        return DigitClassifier(tuple(config["channels"]), config["feature_dim"])


def accuracy(net: nn.Module, digits: data.Digits, batch_size: int = 1000) -> float:
    """Fraction of ``digits`` (x (N, 1, 28, 28) in [0, 1], y (N,)) whose argmax class is the label."""
    net.eval()
    with torch.no_grad():
        hits = sum(int((net(x).argmax(1) == y).sum()) for x, y in
                   data.batches(digits.x, digits.y, batch_size=batch_size, shuffle=False))
    return hits / len(digits)


def _training_set() -> tuple[data.Digits, dict[str, Any]]:
    """The classifier's training digits and its full config (CONFIG + the digits' SHA-256)."""
    train_digits = data.load_mnist("train", n=CONFIG["n_train"], seed=CONFIG["seed"], verbose=False)
    digest = hashlib.sha256(train_digits.x.numpy().tobytes() + train_digits.y.numpy().tobytes()).hexdigest()
    config = {**CONFIG, "train_sha256": digest[:16]}
    return train_digits, config


def load_classifier(*, progress: bool = True) -> Classifier:
    """The yardstick classifier: trained once per machine (about 5-20 s on one CPU thread), then loaded.

    Trains on ``CONFIG["n_train"]`` class-balanced training digits with one CPU thread (so a rerun gives
    the same weights bit for bit, whatever torch's thread setting; tests/unit checks it), through
    :func:`labutils.train.fit` with ``cache="yardstick-classifier"``: the cache is keyed on the run
    (CONFIG, the network, the training code) and a SHA-256 of the training digits, so full MNIST and
    the offline fallback get different files. The held-out accuracy is measured after each epoch (monitoring only).
    Memoised per process (per build folder, data folder and ``$GENLABS_OFFLINE``).
    """
    where = (str(results.build_dir()), str(data.default_root()), os.environ.get(data.OFFLINE_ENV, ""))
    if where in _loaded and _loaded[where].path.is_file():  # skip re-reading and hashing the training digits
        return _loaded[where]
    train_digits, config = _training_set()
    net = _build_net(config)
    test_digits = data.load_mnist("test", verbose=False)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        # enable_grad: the first call may come from inside a caller's torch.no_grad(); a fixed global random
        # state (the caller's restored after): the cache key covers it, so every notebook loads the same file
        with torch.enable_grad(), torch.random.fork_rng(devices=[]):
            torch.manual_seed(config["seed"])
            hist = train.fit(net, lambda m, b: F.cross_entropy(m(b[0]), b[1]), (train_digits.x, train_digits.y),
                             epochs=config["epochs"], batch_size=config["batch_size"], lr=config["lr"],
                             seed=config["seed"], cache="yardstick-classifier", config=config, progress=progress,
                             on_epoch=lambda epoch, m: accuracy(m, test_digits),  # monitored, never used to select
                             desc="sample-quality classifier")
    finally:
        torch.set_num_threads(threads)
    if hist.interrupted:
        raise RuntimeError("the sample-quality classifier's training was interrupted: run again to finish it")
    net.eval().requires_grad_(False)
    out = Classifier(net, float(hist.snapshots[-1][1]), hist.path, hist.from_cache, train_digits.source)
    _loaded[where] = out
    return out


def _check_digits(x: Any, name: str, k: int) -> torch.Tensor:
    """Raise a ValueError unless ``x`` is a finite float tensor (N, 1, 28, 28) in [0, 1] with N > k."""
    if not isinstance(x, torch.Tensor):
        raise ValueError(f"{name} must be a torch.Tensor (N, 1, 28, 28) in [0, 1], got {type(x).__name__}")
    shape = tuple(x.shape)
    if x.ndim != 4 or shape[1:] != (1, 28, 28):
        hint = f"; reshape it with {name}.reshape(-1, 1, 28, 28)" if x.numel() % 784 == 0 and x.numel() else ""
        raise ValueError(f"{name} must have shape (N, 1, 28, 28), got {shape}{hint}")
    if not x.is_floating_point():
        raise ValueError(f"{name} has dtype {x.dtype}: pass floats in [0, 1] (e.g. {name}.float() / 255)")
    if shape[0] <= k:
        raise ValueError(f"{name} has {shape[0]} digits: the {k}-nearest-neighbour scores need more than "
                         f"{k} (a few hundred or more give stable numbers)")
    if not bool(torch.isfinite(x).all()):
        raise ValueError(f"{name} contains NaN or infinite pixels: the generator diverged, check its training")
    lo, hi = float(x.min()), float(x.max())
    if lo < 0.0 or hi > 1.0:
        raise ValueError(f"{name} has pixels in [{lo:.3g}, {hi:.3g}], expected [0, 1]: map tanh outputs with "
                         f"({name} + 1) / 2, logits with torch.sigmoid, or clamp with {name}.clamp(0, 1)")
    return x


def embed(net: nn.Module, x: torch.Tensor, batch_size: int = 1000) -> tuple[torch.Tensor, torch.Tensor]:
    """Features (N, D) float64 and class probabilities p(y|x) (N, 10) float64 of digits x (N, 1, 28, 28)."""
    net.eval()
    feats, probs = [], []
    with torch.no_grad():
        for (xb,) in data.batches(x, batch_size=batch_size, shuffle=False):
            f = net.features(xb)
            feats.append(f.double().cpu())
            probs.append(net.head(f).double().softmax(1).cpu())
    return torch.cat(feats), torch.cat(probs)


def frechet_distance(f1: torch.Tensor, f2: torch.Tensor) -> float:
    """Squared Fréchet distance between Gaussians fitted to features f1 (N1, D) and f2 (N2, D).

    d^2 = |mu1 - mu2|^2 + tr(S1) + tr(S2) - 2 tr((S1^1/2 S2 S1^1/2)^1/2), in float64. The cross term is
    computed from the eigenvalues of the symmetric PSD matrix S1^1/2 S2 S1^1/2 (same trace of square root
    as S1 S2, whose general ``scipy.linalg.sqrtm``, pytorch-fid's way, can turn complex and needs an
    ``eps`` retry on singular covariances). Written here rather than taken from torchmetrics (whose FID
    metric can take a custom feature network): not a dependency of this project, for these few lines.
    """
    f1, f2 = f1.double(), f2.double()
    mu1, mu2 = f1.mean(0), f2.mean(0)  # (D,)
    s1, s2 = torch.cov(f1.T), torch.cov(f2.T)  # (D, D), unbiased: / (N - 1)
    w, v = torch.linalg.eigh(s1)
    root1 = (v * w.clamp_min(0).sqrt()) @ v.T  # S1^1/2 = V diag(sqrt(w)) V^T
    m = root1 @ s2 @ root1  # S1^1/2 S2 S1^1/2, symmetric PSD
    cross = torch.linalg.eigvalsh((m + m.T) / 2).clamp_min(0).sqrt().sum()  # tr((S1^1/2 S2 S1^1/2)^1/2)
    d2 = (mu1 - mu2).square().sum() + s1.trace() + s2.trace() - 2 * cross
    return max(float(d2), 0.0)  # >= 0 in exact arithmetic; clamp rounding below zero


def _knn_radii(x: torch.Tensor, k: int, chunk: int) -> torch.Tensor:
    """(N,) distance from each row of x (N, D) to its k-th nearest other row."""
    return torch.cat([torch.cdist(x[s:s + chunk], x).topk(k + 1, dim=1, largest=False).values[:, k]
                      for s in range(0, len(x), chunk)])  # column 0 is the point itself (distance 0)


def prdc(real: torch.Tensor, fake: torch.Tensor, k: int = K_NEAREST, chunk_elems: int = 2**22) -> dict[str, float]:
    """Precision, recall, density and coverage of features fake (M, D) against real (N, D), k nearest neighbours.

    Naeem et al. 2020's definitions, as in their reference code (github.com/clovaai/prdc, which
    tests/unit/test_yardstick.py checks this against): with r_i the distance from real i to its k-th
    nearest real neighbour and s_j the same for fake j among the fakes,
    precision = share of fakes inside some ball B(real_i, r_i); recall = share of reals inside some
    B(fake_j, s_j); density = (1 / kM) sum_j #{i : fake_j in B(real_i, r_i)}; coverage = share of reals
    whose ball holds at least one fake. Written here rather than imported: ``prdc`` 0.2 (the latest
    release, its files dated February 2020) prints on every call, hard-codes ``n_jobs=8`` (oversubscribing
    a shared 2-core machine) and builds the full M x M fake distance matrix (0.4-0.8 GB for 10,000 fakes);
    this version streams over chunks of fakes in float64, with the same strict ``<`` comparisons.
    """
    real, fake = real.double(), fake.double()
    n, m = len(real), len(fake)
    chunk = max(1, chunk_elems // max(n, m))
    r_real, r_fake = _knn_radii(real, k, chunk), _knn_radii(fake, k, chunk)  # (N,), (M,)
    inside = torch.empty(m, dtype=torch.float64)  # number of real balls holding each fake
    recalled = torch.zeros(n, dtype=torch.bool)  # real i inside some fake ball
    nearest = torch.full((n,), float("inf"), dtype=torch.float64)  # distance from real i to its nearest fake
    for s in range(0, m, chunk):
        d = torch.cdist(real, fake[s:s + chunk])  # (N, B)
        inside[s:s + chunk] = (d < r_real[:, None]).sum(0)
        recalled |= (d < r_fake[None, s:s + chunk]).any(1)
        nearest = torch.minimum(nearest, d.min(1).values)
    return {
        "precision": float((inside > 0).double().mean()),
        "recall": float(recalled.double().mean()),
        "density": float(inside.sum() / (k * m)),  # (1 / kM) sum_j sum_i 1[fake_j in B(real_i, r_i)]
        "coverage": float((nearest < r_real).double().mean()),
    }


def class_spread(probs: torch.Tensor) -> dict[str, Any]:
    """Entropy scores of class probabilities p(y|x) (N, 10): how many classes, how clearly drawn (nats)."""
    p_bar = probs.mean(0)  # (10,) mean class distribution
    class_entropy = float(-torch.xlogy(p_bar, p_bar).sum())  # H(p_bar) = -sum_y p_bar(y) log p_bar(y)
    sample_entropy = float(-torch.xlogy(probs, probs).sum(1).mean())  # E_x H(p(y|x))
    return {
        "effective_classes": float(torch.tensor(class_entropy).exp()),  # exp H(p_bar): 1 (one class) .. 10
        "class_entropy": class_entropy,
        "sample_entropy": sample_entropy,
        "classifier_score": float(torch.tensor(class_entropy - sample_entropy).exp()),  # IS formula: exp E KL(p||p_bar)
        "class_fractions": (torch.bincount(probs.argmax(1), minlength=N_CLASSES) / len(probs)).tolist(),
    }


def sample_quality(fake: torch.Tensor, real: torch.Tensor, *, k: int = K_NEAREST,
                   classifier: nn.Module | None = None, batch_size: int = 1000) -> dict[str, Any]:
    """Score generated digits ``fake`` against held-out real digits ``real`` on a classifier's features.

    fake: (M, 1, 28, 28), real: (N, 1, 28, 28), float in [0, 1], M, N > k (use a few hundred or more;
    the Fréchet distance is biased upwards, for real-like digits by about 6,150 (1/M + 1/N), so compare
    it at equal sizes). real: the held-out test digits, ``labutils.data.load_mnist("test").x``, never
    digits the classifier trained on, never repeated.
    classifier: a :class:`DigitClassifier` (default: the cached yardstick, :func:`load_classifier`).

    Returns floats: ``frechet`` (squared feature units, 0 for identical Gaussians), ``precision``,
    ``recall``, ``density`` (about 1 for matching distributions, can exceed 1), ``coverage`` (fractions
    in [0, 1]), ``effective_classes`` (1..10), ``class_entropy`` and ``sample_entropy`` (nats),
    ``classifier_score``; ``class_fractions`` (10 fractions of fakes per predicted class); ``k``,
    ``n_fake``, ``n_real``. Scores are computed on the CPU in float64; the classifier runs on fake's device.
    """
    if not (isinstance(k, int) and k >= 1):
        raise ValueError(f"k={k!r}: pass a positive number of nearest neighbours (Naeem et al. 2020 use 5)")
    fake, real = _check_digits(fake, "fake", k), _check_digits(real, "real", k)
    net = classifier if classifier is not None else load_classifier().net
    net = net.to(fake.device)
    f_fake, p_fake = embed(net, fake, batch_size)
    f_real, _ = embed(net, real.to(fake.device), batch_size)
    return {"frechet": frechet_distance(f_fake, f_real), **prdc(f_real, f_fake, k),
            **class_spread(p_fake), "k": k, "n_fake": len(fake), "n_real": len(real)}


BOOTSTRAP_KEYS = ("frechet", "precision", "recall", "density", "coverage")


def sample_quality_se(fake: torch.Tensor, real: torch.Tensor, *, n_boot: int = 20, seed: int = 0,
                      k: int = K_NEAREST, classifier: nn.Module | None = None,
                      batch_size: int = 1000) -> dict[str, float]:
    """Bootstrap standard errors of ``frechet``, ``precision``, ``recall``, ``density``, ``coverage`` over ``fake``.

    The tolerance of a checked :func:`sample_quality` score: its spread over ``n_boot`` resamples (with
    replacement) of the generated digits, the real ones fixed. Only the fakes are resampled: repeated real
    digits would be each other's nearest neighbours and shrink the k-NN radii (module docstring). Repeated
    fakes shrink the fakes' own radii a little, so ``recall``'s spread is a rough guide only.
    """
    fake, real = _check_digits(fake, "fake", k), _check_digits(real, "real", k)
    net = (classifier if classifier is not None else load_classifier().net).to(fake.device)
    f_fake, _ = embed(net, fake, batch_size)
    f_real, _ = embed(net, real.to(fake.device), batch_size)
    g = torch.Generator().manual_seed(seed)
    draws: dict[str, list[float]] = {key: [] for key in BOOTSTRAP_KEYS}
    for _ in range(n_boot):
        rows = torch.randint(len(f_fake), (len(f_fake),), generator=g)
        scores = {"frechet": frechet_distance(f_fake[rows], f_real), **prdc(f_real, f_fake[rows], k)}
        for key in BOOTSTRAP_KEYS:
            draws[key].append(scores[key])
    return {key: float(torch.tensor(values, dtype=torch.float64).std()) for key, values in draws.items()}
