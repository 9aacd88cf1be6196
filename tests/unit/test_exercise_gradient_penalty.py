"""Lab 08's gradient-penalty exercise (issue 17): its checks, judged the grader's way, on real and wrong answers.

Each answer is the notebook's own solution cell, edited to one plausible mistake. The checks run as the grader
runs them: INPUTS and the answer's EXPORT in one namespace (the kernel), the exported values through the safe
format, then INPUTS again and the ASSERT on those values only (``checks.judge``), with a grader's seed.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torch import nn

from labutils import losses
from tests.fixtures import exercise_grading
from tests.fixtures.exercise_grading import points

LAB, EXERCISE = "08_wasserstein_gan.ipynb", "gradient_penalty"
SEEDS = (0, 7, 123456)  # 0 is the plain run's seed; the others stand for graders' draws
CONTEXT = "import torch\nfrom torch import nn\n"  # the lab's imports


def _points(seed: int, tmp_path: Path, **answer) -> dict[bool, float]:
    """Points earned, public (False) and hidden (True), judged with ``seed``: the solution, or ``stub=``,
    ``mutate=`` or ``answer=`` (exercise_grading.grade)."""
    result = exercise_grading.grade(LAB, EXERCISE, lambda nb: CONTEXT, seed=seed, tmp=tmp_path, **answer)
    assert [h for h, _, _ in result.values()] == [False, True], "one public, one hidden check"
    return {hidden: points(result, hidden) for hidden in (False, True)}


def _edit(old: str, new: str) -> dict[str, str]:
    """One plausible mistake: ``old`` in the solution's source replaced by ``new`` (grade checks that it matches)."""
    return {old: new}


MISTAKES = {
    "penalty at the real points only": _edit("gradient_norms(critic, interpolate(real, fake, generator))",
                                             "gradient_norms(critic, real)"),
    "gradient norm over the whole batch": _edit("return grad.flatten(1).norm(dim=1)",
                                                "return grad.norm().expand(len(x))"),
    "norm over the last axis only": _edit("return grad.flatten(1).norm(dim=1)",
                                          "return grad.norm(dim=-1).mean((1, 2))"),
    "missing square": _edit("((norms - 1) ** 2).mean()", "(norms - 1).abs().mean()"),
    "no create_graph": _edit("create_graph=True", "create_graph=False"),
    "lambda left out": _edit("return lam * ((norms - 1) ** 2).mean()", "return ((norms - 1) ** 2).mean()"),
    "one alpha per pixel": _edit(
        "alpha = torch.rand(len(real), generator=generator)  # one weight per sample (drawn on the CPU)\n"
        "    alpha = alpha.to(real.device, real.dtype).view(-1, *[1] * (real.ndim - 1))",
        "alpha = torch.rand(real.shape, generator=generator).to(real.device, real.dtype)"),
    "one alpha for the whole batch": _edit("torch.rand(len(real), generator=generator)",
                                           "torch.rand(1, generator=generator).expand(len(real))"),
}
@pytest.mark.parametrize("seed", SEEDS)
def test_the_solution_gets_every_point_and_the_stub_none(seed, tmp_path):
    solution = _points(seed, tmp_path / "solution")
    assert solution[False] > 0 and solution[True] > 0, solution
    result = exercise_grading.grade(LAB, EXERCISE, lambda nb: CONTEXT, seed=seed, tmp=tmp_path / "solution")
    assert all(err is None for _, _, err in result.values()), result
    assert _points(seed, tmp_path / "stub", stub=True) == {False: 0, True: 0}


@pytest.mark.parametrize("mistake", sorted(MISTAKES))
def test_each_plausible_mistake_loses_the_hidden_points(mistake, tmp_path):
    for seed in SEEDS:
        assert _points(seed, tmp_path / str(seed), mutate=MISTAKES[mistake])[True] == 0, (mistake, seed)


def test_the_library_penalty_cannot_stand_in_for_the_answer(tmp_path):
    """labutils.losses.gradient_penalty draws the same alphas: calling it passes nothing the hidden check asks of
    interpolate and gradient_norms (the points and the per-sample norms), so those must be the student's own."""
    lazy = ("def interpolate(real, fake, generator):\n    raise NotImplementedError\n"
            "def gradient_norms(critic, x):\n    raise NotImplementedError\n"
            "def gradient_penalty(critic, real, fake, generator, lam=10.0):\n"
            "    return lam * losses.gradient_penalty(critic, real, fake, generator)\n")
    assert _points(5, tmp_path, answer="from labutils import losses\n" + lazy)[True] == 0
    # ... although its penalty is the very value the reference computes (so the check is not merely unreachable)
    real, fake = torch.randn(4, 3), torch.randn(4, 3)
    critic = nn.Sequential(nn.Linear(3, 5), nn.Tanh(), nn.Linear(5, 1))
    ns: dict = {"torch": torch, "nn": nn}
    exec(exercise_grading.solution_source(LAB, EXERCISE), ns)
    mine = ns["gradient_penalty"](critic, real, fake, torch.Generator().manual_seed(1), lam=3.0)
    assert torch.allclose(mine, 3.0 * losses.gradient_penalty(critic, real, fake, torch.Generator().manual_seed(1)))
