"""Benchmark: ``labutils.embed.sammon`` against a plain NumPy Sammon mapping, on MNIST digits.

The baseline is the classic algorithm in its widely used NumPy form (Cawley & Talbot's MATLAB code as
ported by tompollard/sammon): scipy ``cdist`` for the map distances, the gradient and the diagonal
Hessian from dense products, the step halved until the stress falls. Both start from the same PCA
map and stop at the same iteration cap and tolerance; both final maps are scored by the same float64
formula (``labutils.metrics_embedding.sammon_stress``).

    OMP_WAIT_POLICY=PASSIVE .venv/bin/python benchmarks/sammon.py    # 1,000 and 2,000 digits, 500 iterations
    .venv/bin/python benchmarks/sammon.py --sizes 500 --max-iter 50   # a quick look

``labutils.embed.sammon`` fuses its kernels with torch.compile on the CPU. Compiling is a one-time cost
per process (seconds; less when torch's on-disk cache already holds the kernels): the header line
reports it, measured on a small warm-up problem, and the rows then time the compiled kernels. The
'eager' row runs the same code uncompiled.

On a shared, oversubscribed machine, torch's OpenMP threads spin-wait for each other at every
operation; OMP_WAIT_POLICY=PASSIVE (read when torch loads) avoids that. The header prints it and the
load average is printed per run.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import time

import numpy as np
import torch
from scipy.spatial.distance import cdist

from labutils.embedding import sammon as embed
from labutils.embedding.quality import sammon_stress


def numpy_sammon(X: np.ndarray, Y0: np.ndarray, max_iter: int = 500, tol: float = 1e-9,
                 max_halves: int = 20) -> tuple[np.ndarray, int]:
    """The classic NumPy loop: X (N, D) points, Y0 (N, n) initial map -> (map (N, n), iterations)."""
    N = X.shape[0]
    D = cdist(X, X) + np.eye(N)
    Dinv = 1.0 / D
    y = Y0.copy()
    one = np.ones_like(y)
    d = cdist(y, y) + np.eye(N)
    dinv = 1.0 / d
    E = ((D - d) ** 2 * Dinv).sum()
    it = 0
    for it in range(1, max_iter + 1):  # noqa: B007 (the count is returned)
        delta = dinv - Dinv
        deltaone = delta @ one
        g = delta @ y - y * deltaone
        dinv3 = dinv**3
        y2 = y**2
        H = dinv3 @ y2 - deltaone - 2 * y * (dinv3 @ y) + y2 * (dinv3 @ one)
        s = -g / np.abs(H)
        y_old = y
        for _ in range(max_halves):
            y = y_old + s
            d = cdist(y, y) + np.eye(N)
            dinv = 1.0 / d
            E_new = ((D - d) ** 2 * Dinv).sum()
            if E_new < E:
                break
            s = 0.5 * s
        else:
            return y_old, it - 1
        if abs((E - E_new) / E) < tol:
            return y, it
        E = E_new
    return y, it


def mnist_digits(n: int, seed: int) -> np.ndarray:
    """``n`` MNIST training digits as (n, 784) float64 in [0, 1], a seeded class-balanced subset."""
    from labutils.data import load_mnist

    return load_mnist("train", n=n, seed=seed, verbose=False).x.reshape(n, -1).double().numpy()


def timed(fn, *args, **kwargs):
    """fn's result, its wall time and the CPU time of this process (all threads), in seconds."""
    wall, cpu = time.perf_counter(), time.process_time()
    out = fn(*args, **kwargs)
    return out, time.perf_counter() - wall, time.process_time() - cpu


def row(X: np.ndarray, seed: int, name: str, res: embed.SammonResult, wall: float, cpu: float,
        baseline: tuple[float, float, float, float]) -> float:
    """Print one result line: times, final stress, and their ratios to the baseline's (wall, CPU, ms/iter,
    stress). Returns the final stress."""
    wall_np, cpu_np, ms_np, s_np = baseline
    s = sammon_stress(X, res.Y)
    ms = 1e3 * wall / max(res.n_iter, 1)
    print(f"{len(X):>5} {seed:>4} {name:<27} {res.n_iter:>5} {res.stop_reason:<10} {wall:>7.2f} {cpu:>7.2f} {ms:>8.2f} "
          f"{s:>13.7f} {wall_np / wall:>8.1f} {cpu_np / cpu:>5.1f} {ms_np / ms:>5.1f} {s / s_np:>12.6f} "
          f"{os.getloadavg()[0]:>5.1f}")
    return s


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 2000])
    parser.add_argument("--max-iter", type=int, default=500)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2], help="digit subsets (seeds of load_mnist)")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    print(f"# {datetime.date.today()} | {platform.processor() or platform.machine()} | "
          f"{os.cpu_count()} CPUs, torch threads {torch.get_num_threads()} | torch {torch.__version__} | "
          f"numpy {np.__version__} | max_iter {args.max_iter} | OMP_WAIT_POLICY={os.environ.get('OMP_WAIT_POLICY')}")
    warm_up = np.random.default_rng(0).random((64, 784))
    _, compile_wall, _ = timed(lambda: [embed.sammon(warm_up, max_iter=2, dtype=dt, device="cpu")
                                        for dt in (torch.float64, torch.float32)])
    print(f"# one-time cost per process: compiling the fused kernels (float64 and float32, all N) took "
          f"{compile_wall:.1f} s; the rows below run the compiled kernels (and 'eager' without them)")
    print(f"{'N':>5} {'seed':>4} {'implementation':<27} {'iters':>5} {'stop':<10} {'wall s':>7} {'CPU s':>7} "
          f"{'ms/iter':>8} {'stress (1969)':>13} {'speed-up':>8} {'CPU':>5} {'/iter':>5} {'stress ratio':>12} "
          f"{'load':>5}")
    summary = []
    for n in args.sizes:
        for seed in args.seeds:
            X = mnist_digits(n, seed)
            Y0 = embed.pca_init(torch.from_numpy(X), 2).numpy()
            (Y_np, it_np), wall_np, cpu_np = timed(numpy_sammon, X, Y0, max_iter=args.max_iter)
            s_np = sammon_stress(X, Y_np)
            ms_np = 1e3 * wall_np / max(it_np, 1)
            print(f"{n:>5} {seed:>4} {'numpy baseline (f64)':<27} {it_np:>5} {'':<10} {wall_np:>7.2f} {cpu_np:>7.2f} "
                  f"{ms_np:>8.2f} {s_np:>13.7f} {1.0:>8.1f} {1.0:>5.1f} {1.0:>5.1f} {1.0:>12.6f} "
                  f"{os.getloadavg()[0]:>5.1f}")
            # The classic iteration is chaotic: the same loop from a start moved by 1e-12 relative ends elsewhere.
            Y_np2, it_np2 = numpy_sammon(X, Y0 * (1 + 1e-12), max_iter=args.max_iter)
            s_np2 = sammon_stress(X, Y_np2)
            print(f"{n:>5} {seed:>4} {'numpy, start x (1 + 1e-12)':<27} {it_np2:>5} {'':<10} {'':>7} {'':>7} {'':>8} "
                  f"{s_np2:>13.7f} {'':>8} {'':>5} {'':>5} {s_np2 / s_np:>12.6f}")
            summary.append((n, "numpy, start x (1 + 1e-12)", 1.0, s_np2 / s_np))
            baseline = (wall_np, cpu_np, ms_np, s_np)
            runs = [(torch.float64, True), (torch.float32, True)]
            if seed == args.seeds[0]:
                runs.append((torch.float32, False))  # uncompiled: once per N is enough to show the difference
            for dtype, compiled in runs:
                res, wall, cpu = timed(embed.sammon, X, init=Y0, max_iter=args.max_iter, dtype=dtype, device="cpu",
                                       compiled=compiled)
                name = f"labutils ({str(dtype)[-7:]}{'' if compiled else ', eager'})"
                summary.append((n, name, wall_np / wall, row(X, seed, name, res, wall, cpu, baseline) / s_np))
    print("\n# summary over the seeds: wall-time speed-up and final stress / the baseline's (min .. max)")
    for n, name in dict.fromkeys((n, name) for n, name, _, _ in summary):
        ratios = [(sp, sr) for m, nm, sp, sr in summary if (m, nm) == (n, name)]
        speed, stress = [r[0] for r in ratios], [r[1] for r in ratios]
        print(f"{n:>5} {name:<27} speed-up {min(speed):5.1f} .. {max(speed):5.1f}   "
              f"stress ratio {min(stress):.6f} .. {max(stress):.6f}   (mean {np.mean(stress):.6f})")


if __name__ == "__main__":
    main()
