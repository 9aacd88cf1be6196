"""Benchmark: does ``torch.set_flush_denormal(True)`` remove the slow stretches of a small GAN on the CPU?

Two copies of the same GAN (the ring of 8 Gaussians; G and D 4x128 ReLU MLPs, z of 256, batch 512,
Adam lr 1e-4 betas (0.5, 0.999), non-saturating loss, one D step per G step) start from the same
weights and the same data/noise seed. They train in alternating 100-step stretches, one with
denormals flushed to zero and one without (the order swapped every stretch), so that the load of a
shared machine falls on both alike. Printed per stretch: ms per step of each, their ratio, and the
share of subnormal floats in the unflushed run's gradients (the suspect) at the end of the stretch.

    .venv/bin/python benchmarks/denormals.py                   # 2,000 steps, torch's default threads
    .venv/bin/python benchmarks/denormals.py --threads 1 --steps 1000
"""

from __future__ import annotations

import argparse
import datetime
import platform
import statistics
import time

import torch
from torch import nn

from labutils import losses, toy

TINY = torch.finfo(torch.float32).tiny  # smallest normal float32, 1.18e-38


def mlp(n_in: int, n_out: int, width: int = 128, depth: int = 4) -> nn.Sequential:
    """``depth`` hidden ReLU layers of ``width`` units."""
    layers: list[nn.Module] = []
    for i in range(depth):
        layers += [nn.Linear(n_in if i == 0 else width, width), nn.ReLU()]
    return nn.Sequential(*layers, nn.Linear(width, n_out))


def subnormal_share(tensors: list[torch.Tensor]) -> float:
    """Fraction of entries that are subnormal (non-zero with magnitude below the smallest normal float)."""
    flat = torch.cat([t.detach().flatten() for t in tensors])
    return float(((flat != 0) & (flat.abs() < TINY)).float().mean())


class GanRun:
    """One GAN on the ring, trained stretch by stretch."""

    def __init__(self, seed: int, z_dim: int = 256, batch: int = 512):
        torch.manual_seed(seed)
        self.G, self.D = mlp(z_dim, 2), mlp(2, 1)
        self.opt_g = torch.optim.Adam(self.G.parameters(), lr=1e-4, betas=(0.5, 0.999))
        self.opt_d = torch.optim.Adam(self.D.parameters(), lr=1e-4, betas=(0.5, 0.999))
        self.gen = torch.Generator().manual_seed(seed)
        self.target, self.z_dim, self.batch = toy.ring(), z_dim, batch

    def stretch(self, steps: int) -> float:
        """Train ``steps`` steps; return the seconds taken."""
        t0 = time.perf_counter()
        for _ in range(steps):
            real = self.target.sample(self.batch, self.gen)
            with torch.no_grad():
                fake = self.G(torch.randn(self.batch, self.z_dim, generator=self.gen))
            self.opt_d.zero_grad()
            losses.d_loss_minimax(self.D(real), self.D(fake)).backward()
            self.opt_d.step()
            self.opt_g.zero_grad()
            fake = self.G(torch.randn(self.batch, self.z_dim, generator=self.gen))
            losses.g_loss_nonsaturating(self.D(fake)).backward()
            self.opt_g.step()
        return time.perf_counter() - t0

    def grads(self) -> list[torch.Tensor]:
        return [p.grad for m in (self.G, self.D) for p in m.parameters() if p.grad is not None]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--steps", type=int, default=2000, help="steps per run (default 2000)")
    ap.add_argument("--stretch", type=int, default=100, help="steps per timed stretch (default 100)")
    ap.add_argument("--threads", type=int, default=0, help="torch threads (default: torch's choice)")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    if args.steps < args.stretch or args.stretch < 1:
        raise SystemExit(f"--steps ({args.steps}) must be at least --stretch ({args.stretch}) >= 1")
    if args.threads:
        torch.set_num_threads(args.threads)
    if not torch.set_flush_denormal(True):
        raise SystemExit("this CPU cannot flush denormals (no SSE3): nothing to compare")

    runs = {True: GanRun(args.seed), False: GanRun(args.seed)}
    print(f"# denormals benchmark | {datetime.date.today()} | {platform.processor() or platform.machine()} | "
          f"python {platform.python_version()} | torch {torch.__version__} | threads {torch.get_num_threads()}")
    print("| steps | flush ms/step | no-flush ms/step | no-flush / flush | subnormal grads (no flush) |")
    print("|---|---|---|---|---|")
    ratios, times = [], {True: [], False: []}
    for i in range(args.steps // args.stretch):
        for flush in ((True, False) if i % 2 == 0 else (False, True)):
            torch.set_flush_denormal(flush)
            times[flush].append(1000 * runs[flush].stretch(args.stretch) / args.stretch)
        torch.set_flush_denormal(True)
        ratios.append(times[False][-1] / times[True][-1])
        print(f"| {i * args.stretch + 1}-{(i + 1) * args.stretch} | {times[True][-1]:.1f} | {times[False][-1]:.1f} "
              f"| {ratios[-1]:.2f} | {subnormal_share(runs[False].grads()):.2%} |", flush=True)
    med = {f: statistics.median(times[f]) for f in (True, False)}
    print(f"\nmedian ms/step: flush {med[True]:.1f}, no flush {med[False]:.1f}; "
          f"median ratio {statistics.median(ratios):.2f}, max ratio {max(ratios):.2f}; total seconds: "
          f"flush {sum(times[True]) * args.stretch / 1000:.0f}, no flush {sum(times[False]) * args.stretch / 1000:.0f}")
    slow = {f: sum(t > 3 * med[f] for t in times[f]) for f in (True, False)}
    print(f"stretches slower than 3x their run's median: flush {slow[True]}, no flush {slow[False]}")


if __name__ == "__main__":
    main()
