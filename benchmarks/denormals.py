"""Benchmark: does ``torch.set_flush_denormal(True)`` remove the slow stretches of a small GAN on the CPU?

Two copies of the same GAN (the ring of 8 Gaussians; G and D 4x128 ReLU MLPs, z of 256, batch 512,
Adam lr 1e-4 betas (0.5, 0.999), non-saturating loss, one D step per G step) start from the same
weights and the same data/noise seed. They train in alternating 100-step stretches under two
settings (the order swapped every stretch), so that the load of a shared machine falls on both alike.
Printed per stretch: ms per step of each, their ratio, and the share of subnormal floats in the
second run's gradients and Adam moments at the end of the stretch (the suspect).

``--compare denormals`` (default): flush on vs off, on one thread. One thread because the flag is
per thread: ``torch.set_flush_denormal`` sets the calling thread's MXCSR, and torch's intra-op worker
threads keep the flag they inherited when they were created (check: ``--check-threads``), so in one
multi-threaded process the two settings cannot be alternated cleanly.
``--compare threads``: 1 thread vs 2 threads, both flushing (set before any worker thread exists).

    .venv/bin/python benchmarks/denormals.py                       # flush vs no flush, 2,000 steps each
    .venv/bin/python benchmarks/denormals.py --compare threads     # 1 vs 2 threads
    OMP_WAIT_POLICY=PASSIVE .venv/bin/python benchmarks/denormals.py --compare threads   # idle threads sleep
    .venv/bin/python benchmarks/denormals.py --check-threads       # does the flag reach worker threads?
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

    def state(self) -> list[torch.Tensor]:
        """Gradients and Adam moments of both networks."""
        out = [p.grad for m in (self.G, self.D) for p in m.parameters() if p.grad is not None]
        for opt in (self.opt_g, self.opt_d):
            out += [s[k] for s in opt.state.values() for k in ("exp_avg", "exp_avg_sq")]
        return out


def worker_threads_flush() -> float:
    """Share of subnormal inputs that survive ``x * 1`` on 2 threads when the flag is set after the pool started.

    Run in a fresh process. 0 means every thread flushed; 0.5 means one of the two threads did not.
    """
    torch.set_num_threads(2)
    torch.set_flush_denormal(False)
    x = torch.full((4_000_000,), 1e-39)  # large enough to be split across threads: the pool starts here
    torch.set_flush_denormal(True)
    return float(((x * 1.0) != 0).float().mean())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--compare", choices=("denormals", "threads"), default="denormals")
    ap.add_argument("--steps", type=int, default=2000, help="steps per run (default 2000)")
    ap.add_argument("--stretch", type=int, default=100, help="steps per timed stretch (default 100)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--check-threads", action="store_true", help="only test whether worker threads flush")
    args = ap.parse_args()
    if args.check_threads:
        after = worker_threads_flush()
        print(f"2 threads, flush set after the worker pool started: {after:.0%} of subnormal inputs survive x*1 "
              f"({'the worker thread does not flush' if after > 0 else 'every thread flushes'})")
        return
    if args.steps < args.stretch or args.stretch < 1:
        raise SystemExit(f"--steps ({args.steps}) must be at least --stretch ({args.stretch}) >= 1")
    if not torch.set_flush_denormal(True):
        raise SystemExit("this CPU cannot flush denormals (no SSE3): nothing to compare")

    if args.compare == "denormals":
        settings, label = (True, False), {True: "flush", False: "no flush"}
        torch.set_num_threads(1)
    else:
        settings, label = (1, 2), {1: "1 thread", 2: "2 threads"}
    runs = {s: GanRun(args.seed) for s in settings}
    a, b = settings
    print(f"# {args.compare} benchmark | {datetime.date.today()} | {platform.processor() or platform.machine()} | "
          f"python {platform.python_version()} | torch {torch.__version__} | "
          f"{'threads 1' if args.compare == 'denormals' else 'flush on'}")
    print(f"| steps | {label[a]} ms/step | {label[b]} ms/step | {label[b]} / {label[a]} "
          f"| subnormal share, {label[b]} |")
    print("|---|---|---|---|---|")
    ratios, times = [], {s: [] for s in settings}
    for i in range(args.steps // args.stretch):
        for s in (settings if i % 2 == 0 else settings[::-1]):
            if args.compare == "denormals":
                torch.set_flush_denormal(s)
            else:
                torch.set_num_threads(s)
            times[s].append(1000 * runs[s].stretch(args.stretch) / args.stretch)
        torch.set_flush_denormal(True)
        ratios.append(times[b][-1] / times[a][-1])
        print(f"| {i * args.stretch + 1}-{(i + 1) * args.stretch} | {times[a][-1]:.1f} | {times[b][-1]:.1f} "
              f"| {ratios[-1]:.2f} | {subnormal_share(runs[b].state()):.4%} |", flush=True)
    med = {s: statistics.median(times[s]) for s in settings}
    print(f"\nmedian ms/step: {label[a]} {med[a]:.1f}, {label[b]} {med[b]:.1f}; median ratio "
          f"{statistics.median(ratios):.2f}, max ratio {max(ratios):.2f}; total seconds: "
          f"{label[a]} {sum(times[a]) * args.stretch / 1000:.0f}, {label[b]} {sum(times[b]) * args.stretch / 1000:.0f}")
    slow = {s: sum(t > 3 * min(times[s]) for t in times[s]) for s in settings}
    print(f"stretches slower than 3x their run's fastest: {label[a]} {slow[a]}, {label[b]} {slow[b]}")


if __name__ == "__main__":
    main()
