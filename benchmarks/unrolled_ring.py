"""Benchmark: the unrolled GAN (``labutils.unrolled``, k Adam steps of D) on the ring of 8 Gaussians.

Mirrors notebook 06's remedy comparison: its remedy networks (G, D: 3 hidden ReLU layers of 64, z of 16),
its data (``toy.ring()``), its losses (``losses.gan_d_loss``, non-saturating ``losses.gan_g_loss``), Adam
betas (beta1, 0.999), the full profile's linear learning-rate decay to 1% over the run, and its
evaluation: ``modes.mode_stats`` on ``N_EVAL`` = 2,500 samples from the latent vectors seeded
10,000 + seed; the unrolling's real batches come from a generator seeded 20,000 + seed. Printed per
seed: modes, strict modes, high-quality share, KL to uniform, wall time and time per 1,000 steps;
then the mean over seeds and a Markdown table for benchmarks/RESULTS.md.

    PYTHONPATH=. .venv/bin/python benchmarks/unrolled_ring.py --seeds 0 --steps 2000          # size the run
    PYTHONPATH=. .venv/bin/python benchmarks/unrolled_ring.py --seeds 0 1 2 3 4 --steps 20000

Metz et al.'s demo recipe (06's full-profile setting since issue #18):

    PYTHONPATH=. .venv/bin/python benchmarks/unrolled_ring.py --seeds 0 1 2 3 4 --steps 20000 --k 5 \
        --lr-d 1e-4 --lr-g 1e-3 --batch 512 --saddle --no-lr-decay
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import time

import torch

from labutils import device, losses, modes, nets, toy, train
from labutils.unrolled import generator_loss_for


def linear_lr_decay(opts_lr0, opt_d, total_d_updates, floor=0.01):
    """06's schedule: every lr = its lr0 * max(floor, 1 - t / T), t = D's Adam step count."""
    first = opt_d.param_groups[0]["params"][0]

    def hook(D):
        f = max(floor, 1 - float(opt_d.state[first]["step"]) / total_d_updates)
        for opt, lr0 in opts_lr0:
            for group in opt.param_groups:
                group["lr"] = lr0 * f
    return hook


def run(seed: int, a: argparse.Namespace) -> dict:
    ring = toy.ring()
    std = float(ring.stds[0])
    torch.manual_seed(seed)
    G, D = nets.mlp(a.z_dim, 2, a.width, a.depth), nets.mlp(2, 1, a.width, a.depth)
    z_eval = torch.randn(modes.N_EVAL, a.z_dim, generator=torch.Generator().manual_seed(10_000 + seed))
    opt_g = torch.optim.Adam(G.parameters(), lr=a.lr_g, betas=(a.beta1, 0.999))
    opt_d = torch.optim.Adam(D.parameters(), lr=a.lr_d, betas=(a.beta1, 0.999))
    unroll_gen = torch.Generator().manual_seed(20_000 + seed)
    g_loss = generator_loss_for(opt_d, lambda n: ring.sample(n, unroll_gen), k=a.k, d_loss=losses.gan_d_loss,
                             g_loss=None if a.saddle else losses.gan_g_loss)
    hook = linear_lr_decay([(opt_g, a.lr_g), (opt_d, a.lr_d)], opt_d, a.steps) if a.lr_decay else None
    track, t0, cpu0 = [], time.perf_counter(), time.process_time()

    def evaluate(step, G_):
        s = modes.mode_stats(G_(z_eval), ring.centers, std)
        track.append(f"{step}:{s['modes']}/{s['modes_strict']}/{s['high_quality']:.0f}%")
        wall, cpu = time.perf_counter() - t0, time.process_time() - cpu0
        print(f"  seed {seed} step {step}: {track[-1]} ({wall:.0f} s, CPU {cpu:.0f} s)", flush=True)
        return {k: s[k] for k in ("modes", "modes_strict", "high_quality", "kl_uniform", "counts")}

    hist = train.fit_gan(G, D, lambda n, gen: ring.sample(n, gen), d_loss=losses.gan_d_loss, g_loss=g_loss,
                         z_dim=a.z_dim, steps=a.steps, batch_size=a.batch, k=1, seed=seed, opt_g=opt_g, opt_d=opt_d,
                         after_d_step=hook, snapshot_every=a.track_every, on_snapshot=evaluate,
                         log_every=a.track_every, amp=False, progress=False)
    seconds, cpu = time.perf_counter() - t0, time.process_time() - cpu0
    out = {"seed": seed, **hist.snapshots[-1][1], "seconds": seconds, "s_per_1k": 1000 * seconds / a.steps,
           "cpu_s_per_1k": 1000 * cpu / a.steps}
    print(f"seed {seed}: modes {out['modes']}/8, strict {out['modes_strict']}, HQ {out['high_quality']:.1f}%, "
          f"KL {out['kl_uniform']:.3f}, {seconds:.0f} s ({out['s_per_1k']:.1f} s wall, {out['cpu_s_per_1k']:.1f} s CPU "
          f"per 1,000 steps); HQ samples per mode {out['counts']}", flush=True)
    print("  track (step:modes/strict/HQ): " + " ".join(track), flush=True)
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    p.add_argument("--steps", type=int, default=20_000, help="generator steps (one D step each)")
    p.add_argument("--k", type=int, default=5, help="unrolled Adam steps of D")
    p.add_argument("--lr-g", type=float, default=1e-3)
    p.add_argument("--lr-d", type=float, default=1e-3)
    p.add_argument("--beta1", type=float, default=0.5)
    p.add_argument("--batch", type=int, default=256)
    p.add_argument("--width", type=int, default=64)
    p.add_argument("--depth", type=int, default=3)
    p.add_argument("--z-dim", type=int, default=16)
    p.add_argument("--no-lr-decay", dest="lr_decay", action="store_false")
    p.add_argument("--saddle", action="store_true",
                   help="G loss -L_D(theta_k; real, fake) (Metz et al.'s code), not the non-saturating one")
    p.add_argument("--track-every", type=int, default=1000)
    a = p.parse_args()
    torch.set_num_threads(1)
    device.flush_denormals()
    print(f"{datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC | torch {torch.__version__} | "
          f"{platform.processor() or platform.machine()} | 1 thread | load {os.getloadavg()} | {vars(a)}", flush=True)
    rows = [run(seed, a) for seed in a.seeds]
    mean = {k: sum(r[k] for r in rows) / len(rows) for k in ("modes", "modes_strict", "high_quality", "kl_uniform",
                                                             "seconds", "s_per_1k", "cpu_s_per_1k")}
    print(f"mean over {len(rows)} seeds: modes {mean['modes']:.1f}/8, strict {mean['modes_strict']:.1f}, "
          f"HQ {mean['high_quality']:.1f}%, KL {mean['kl_uniform']:.3f}, {mean['s_per_1k']:.1f} s wall and "
          f"{mean['cpu_s_per_1k']:.1f} s CPU per 1,000 steps, "
          f"total {sum(r['seconds'] for r in rows):.0f} s | load {os.getloadavg()}")
    print("\n| seed | modes (of 8) | strict | high-quality % | KL to uniform | wall s | wall s / 1k | CPU s / 1k |")
    print("|---|---|---|---|---|---|---|---|")
    for r in rows + [{"seed": "mean", **mean}]:
        print(f"| {r['seed']} | {r['modes']:.1f} | {r['modes_strict']:.1f} | {r['high_quality']:.1f} | "
              f"{r['kl_uniform']:.3f} | {r['seconds']:.0f} | {r['s_per_1k']:.1f} | {r['cpu_s_per_1k']:.1f} |")


if __name__ == "__main__":
    main()
