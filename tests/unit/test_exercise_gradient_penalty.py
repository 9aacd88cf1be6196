"""Lab 08's gradient-penalty exercise (issue 17): its checks, judged the grader's way, on real and wrong answers.

Each answer is the notebook's own solution cell, edited to one plausible mistake. The checks run as the grader
runs them: INPUTS and the answer's EXPORT in one namespace (the kernel), the exported values through the safe
format, then INPUTS again and the ASSERT on those values only (``checks.judge``), with a grader's seed.
"""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
import torch
from torch import nn

from labutils import grading, losses
from labutils.tools.grade import checks, markers

LAB = Path(__file__).resolve().parents[2] / "notebooks" / "08_wasserstein_gan.ipynb"
EXERCISE = "gradient_penalty"
SEEDS = (0, 7, 123456)  # 0 is the plain run's seed; the others stand for graders' draws


def _cells() -> tuple[str, list[tuple[checks.Sections, bool, int]]]:
    nb = nbformat.read(str(LAB), as_version=4)
    solution, found = None, []
    for cell in nb.cells:
        meta = cell.metadata.get("genlabs", {})
        if meta.get("exercise") != EXERCISE:
            continue
        if "solution" in cell.metadata.get("tags", []):
            solution = cell.source
        else:
            found.append((checks.split(cell.source), "hidden" in cell.metadata.get("tags", []), meta["points"]))
    assert solution is not None and [hidden for _, hidden, _ in found] == [False, True], "one public, one hidden check"
    return solution, found


SOLUTION, CHECKS = _cells()


def _edit(old: str, new: str) -> str:
    assert SOLUTION.count(old) == 1, f"the solution no longer contains {old!r}: update this test's mistakes"
    return SOLUTION.replace(old, new)


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
STUB = markers.strip_solution(SOLUTION)


def _points(answer: str, seed: int, tmp_path: Path) -> dict[bool, int]:
    """Points earned by ``answer`` (the solution cell's source), public and hidden, judged with ``seed``."""
    earned = {False: 0, True: 0}
    for k, (sections, hidden, points) in enumerate(CHECKS):
        kernel: dict = {"torch": torch, "nn": nn}
        folder = tmp_path / f"{seed}-{k}"
        folder.mkdir(parents=True)
        with grading.seeded(seed):
            try:
                exec(answer, kernel)
                exec(sections.inputs, kernel)
                exec(sections.export, kernel)
                grading.save_values(folder, "c", {n: kernel[n] for n in sections.exported if n in kernel})
            except Exception:  # the export raised (a NotImplementedError, a graph without create_graph): no points
                continue
        if checks.judge(sections, grading.load_values(folder, "c"), seed=seed) is None:
            earned[hidden] += points
    return earned


@pytest.mark.parametrize("seed", SEEDS)
def test_the_solution_gets_every_point_and_the_stub_none(seed, tmp_path):
    total = {hidden: points for _, hidden, points in CHECKS}
    assert _points(SOLUTION, seed, tmp_path / "solution") == total
    assert _points(STUB, seed, tmp_path / "stub") == {False: 0, True: 0}


@pytest.mark.parametrize("mistake", sorted(MISTAKES))
def test_each_plausible_mistake_loses_the_hidden_points(mistake, tmp_path):
    for seed in SEEDS:
        assert _points(MISTAKES[mistake], seed, tmp_path / str(seed))[True] == 0, (mistake, seed)


def test_the_library_penalty_cannot_stand_in_for_the_answer(tmp_path):
    """labutils.losses.gradient_penalty draws the same alphas: calling it passes nothing the hidden check asks of
    interpolate and gradient_norms (the points and the per-sample norms), so those must be the student's own."""
    lazy = ("def interpolate(real, fake, generator):\n    raise NotImplementedError\n"
            "def gradient_norms(critic, x):\n    raise NotImplementedError\n"
            "def gradient_penalty(critic, real, fake, generator, lam=10.0):\n"
            "    return lam * losses.gradient_penalty(critic, real, fake, generator)\n")
    kernel_answer = "from labutils import losses\n" + lazy
    assert _points(kernel_answer, 5, tmp_path)[True] == 0
    # ... although its penalty is the very value the reference computes (so the check is not merely unreachable)
    real, fake = torch.randn(4, 3), torch.randn(4, 3)
    critic = nn.Sequential(nn.Linear(3, 5), nn.Tanh(), nn.Linear(5, 1))
    ns: dict = {"torch": torch, "nn": nn}
    exec(SOLUTION, ns)
    mine = ns["gradient_penalty"](critic, real, fake, torch.Generator().manual_seed(1), lam=3.0)
    assert torch.allclose(mine, 3.0 * losses.gradient_penalty(critic, real, fake, torch.Generator().manual_seed(1)))
