"""Lab 05's exercise ``gan_step`` (issue 17), judged directly: no notebook run.

Each check cell's INPUTS and EXPORT run here on the instructor's solution, the stub, or a plausible wrong
answer (a mutant of the solution's source), the exported values go through the safe format, and the ASSERT is
judged by ``labutils.tools.grade.checks.judge`` with the grader's seed, as at grading. The instructor's solution
earns every point on several seeds, the stub none, and each wrong answer loses the hidden points.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from labutils.exercise_inputs import gan_batches, snapshot, tiny_gan
from tests.fixtures import exercise_grading
from tests.fixtures.exercise_grading import points

LAB = "05_gan_mnist.ipynb"
CONTEXT = "import torch\nimport torch.nn.functional as F\nfrom torch import nn\n"  # the lab's imports


def grade(*, seed: int, tmp: Path, **kwargs):
    """{check cell id: (hidden, points, error or None)} for gan_step's solution (``stub=``, ``mutate=``)."""
    return exercise_grading.grade(LAB, "gan_step", lambda nb: CONTEXT, seed=seed, tmp=tmp, **kwargs)


@pytest.mark.parametrize("seed", [0, 1, 7, 123, 2024])
def test_the_solution_gets_every_point(seed, tmp_path):
    result = grade(seed=seed, tmp=tmp_path)
    assert all(err is None for _, _, err in result.values()), result
    assert points(result) == 6 and points(result, hidden=True) == 4


def test_the_stub_gets_nothing(tmp_path):
    result = grade(stub=True, seed=0, tmp=tmp_path)
    assert points(result) == 0 and all("NotImplementedError" in err for _, _, err in result.values()), result


SOL_D_LOSS = "d_loss = F.softplus(-D(real)).mean() + F.softplus(D(fake)).mean()"
SOL_G_LOSS = "g_loss = F.softplus(-D(G(g_noise))).mean()"
WRONG = {  # plausible wrong answers (issue 17), each a change of the solution's source
    "saturating generator cost log(1 - D(G(z)))": {SOL_G_LOSS: "g_loss = -F.softplus(D(G(g_noise))).mean()"},
    "k = 1 when k is asked": {"zip(real_batches, d_noise)": "zip(real_batches[:1], d_noise[:1])"},
    "wrong sign of the discriminator's loss": {
        SOL_D_LOSS: "d_loss = -(F.softplus(-D(real)).mean() + F.softplus(D(fake)).mean())"},
    "no detach, G's gradients zeroed only at the start: the D step moves G": {
        "fake = G(z).detach()": "fake = G(z)", "    opt_g.zero_grad()\n": "",
        "    for real, z in zip": "    opt_g.zero_grad()\n    for real, z in zip"},
    "the generator's update also steps D": {"    opt_g.step()  # moves G only": "    opt_g.step()\n    opt_d.step()"},
    "D's gradients never zeroed": {"        opt_d.zero_grad()\n": ""},
    "G's gradients never zeroed": {"    opt_g.zero_grad()\n": ""},
    "G's update before D's": {"    for real, z in zip(real_batches, d_noise):": (
        "    opt_g.zero_grad()\n    F.softplus(-D(G(g_noise))).mean().backward()\n    opt_g.step()\n"
        "    for real, z in zip(real_batches, d_noise):")},
}


@pytest.mark.parametrize("name", list(WRONG))
def test_plausible_wrong_answers_lose_the_hidden_points(name, tmp_path):
    for seed in (0, 7):
        result = grade(mutate=WRONG[name], seed=seed, tmp=tmp_path)
        assert points(result, hidden=True) == 0, (name, seed, result)


def test_the_public_check_already_rejects_a_discriminator_that_descends_the_wrong_way(tmp_path):
    result = grade(mutate=WRONG["wrong sign of the discriminator's loss"], seed=0, tmp=tmp_path)
    assert points(result, hidden=False) == 0, result


def test_the_check_inputs_are_the_same_from_the_same_seed_and_differ_between_seeds():
    (g1, d1, *_), (g2, d2, *_), (g3, *_) = tiny_gan(5), tiny_gan(5), tiny_gan(6)
    for a, b in zip(snapshot(g1, d1), snapshot(g2, d2)):
        assert all(bool((a[n] == b[n]).all()) for n in a)
    assert not bool((snapshot(g1)[0]["0.weight"] == snapshot(g3)[0]["0.weight"]).all())
    real, d_noise, g_noise = gan_batches(3, k=4, m=16)
    assert len(real) == len(d_noise) == 4 and real[0].shape == (16, 5) and g_noise.shape == (16, 3)
    assert d1(real[0]).sigmoid().mean().item() < 0.2  # D rejects at first: the two generator costs differ
