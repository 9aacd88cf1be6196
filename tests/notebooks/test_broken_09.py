"""Broken variants of 09_which_generator: each sabotage falsifies the claims it should, and only those.

Each test runs the lab in its CI profile with a sabotage cell after the set-up cell (tests/notebooks/broken.py)
and reads the recorded checks. The sabotage acts after training, so the runs reuse the cached networks of the
CI run (``reuse_cache=True``); they still score every row (about 20 s of CPU, 2 min of wall time each on the
shared 2-core machine), hence ``slow``. Run the lab's CI profile first (``make test`` orders it so).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.notebooks.broken import run_broken

LAB = Path(__file__).resolve().parents[2] / "notebooks" / "09_which_generator.ipynb"

GENERATOR_VS_GENERATOR = ["vae_minus_gan.frechet", "gan_minus_vae.coverage", "ae_normal_minus_fitted.frechet",
                          "ae_fitted_minus_normal.coverage", "cgan_minus_gan.effective_classes",
                          "cgan_minus_gan.coverage"]
REFERENCE_ROWS = ["floor_minus_blurred.coverage", "blurred_minus_floor.frechet", "floor_minus_one_class.coverage"]

# Every generator's last layer is torch.sigmoid (02's and 08's decoders, 03's Bernoulli means) or torch.tanh
# (05's generators); the yardstick's classifier uses neither. Replacing them replaces what every generator draws.
COPIES = '''
_real = labutils.data.load_mnist("train", n=cfg.n_train, seed=SEED, verbose=False)
_pool = _real.x[{select}].flatten(1)
_pool = _pool[torch.randperm(len(_pool), generator=torch.Generator().manual_seed(1))]


def _draw_real(x, *args, **kwargs):  # x (n, 784) -> the same n real digits whatever x is (repeated if needed)
    return _pool.repeat(-(-len(x) // len(_pool)), 1)[:len(x)].to(x)


torch.sigmoid = _draw_real
torch.tanh = lambda x, *args, **kwargs: 2 * _draw_real(x) - 1
'''


def failed(checks: dict[str, dict]) -> set[str]:
    return {name for name, c in checks.items() if not c["passed"]}


@pytest.mark.slow
def test_gan_replaced_by_noise_fails_the_vae_question(tmp_path):
    sabotage = ("_noise = torch.Generator().manual_seed(123)\n"  # 05's tanh output becomes uniform noise
                "torch.tanh = lambda x, *args, **kwargs: torch.rand(x.shape, generator=_noise).to(x) * 2 - 1\n")
    checks = run_broken(LAB, sabotage, tmp_path, reuse_cache=True)
    assert {"vae_minus_gan.frechet", "gan_minus_vae.coverage"} <= failed(checks), checks
    for name in ["ae_normal_minus_fitted.frechet", "ae_fitted_minus_normal.coverage", *REFERENCE_ROWS]:
        assert checks[name]["passed"], (name, checks[name])  # the break is specific to the GANs


@pytest.mark.slow
def test_every_generator_drawing_one_class_of_real_digits_fails_every_comparison(tmp_path):
    checks = run_broken(LAB, COPIES.format(select="_real.y == 0"), tmp_path, reuse_cache=True)
    # all generators draw the same digits: every difference between two generators is exactly 0
    assert set(GENERATOR_VS_GENERATOR) <= failed(checks), checks
    assert "ae_normal_minus_floor.precision" in failed(checks), checks  # real 0s are no "garbage" precision
    assert all(checks[name]["passed"] for name in REFERENCE_ROWS), checks


@pytest.mark.slow
def test_every_generator_copying_real_digits_fails_the_binarization_claim(tmp_path):
    checks = run_broken(LAB, COPIES.format(select=":"), tmp_path, reuse_cache=True)
    assert {"vae_minus_binarized_real.frechet", *GENERATOR_VS_GENERATOR} <= failed(checks), checks


@pytest.mark.slow
def test_broken_reference_rows_fail_their_claims(tmp_path):
    sabotage = '''
import dataclasses
import torch.nn.functional as _F

_conv2d = _F.conv2d  # the lab's 7x7 blur returns its input; the classifier's 5x5 convolutions are untouched
_F.conv2d = lambda x, w, *args, **kwargs: x if w.shape[-1] == 7 else _conv2d(x, w, *args, **kwargs)
_load = labutils.data.load_mnist


def _unlabelled(*args, **kwargs):  # the lab's digits (not the yardstick's) all labelled 0: "one class" = all
    digits = _load(*args, **kwargs)
    return dataclasses.replace(digits, y=digits.y * 0) if kwargs.get("verbose", True) else digits


labutils.data.load_mnist = _unlabelled
'''
    checks = run_broken(LAB, sabotage, tmp_path, reuse_cache=True)
    assert set(REFERENCE_ROWS) <= failed(checks), checks
    assert all(checks[name]["passed"] for name in GENERATOR_VS_GENERATOR), checks
