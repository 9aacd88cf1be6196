"""Per-epoch time of one MLP VAE trained three ways, side by side in one run.

The pytorch/examples VAE (784-400-20, BCE summed + KL, Adam 1e-3, batch 128) on the same training
digits (4,000 by default: all of the offline fallback), each way with its own copy of the same
initial weights:

(a) bare: a hand-written loop slicing device tensors by ``torch.randperm``;
(b) labutils: ``labutils.train.fit`` with its progress bar, history and per-epoch checkpoint on;
(c) DataLoader: ``torch.utils.data.DataLoader(TensorDataset(x), shuffle=True)``, the standard loop.

The three are interleaved epoch by epoch, so that changes in machine load hit all of them alike:
``fit`` runs its epochs and, in its ``on_epoch`` callback, one epoch of (a) and one of (c) (their
order alternating). A labutils epoch is the time between two callbacks: one training epoch plus its
bookkeeping and checkpoint save. The first epoch of each is a warm-up and is not counted. The last
line prints the ratios of the medians:

    labutils/bare = R1x, DataLoader/labutils = R2x

Usage: ``python benchmarks/loop_vs_dataloader.py [--epochs 7] [--threads 1] [--n 4000]``
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import torch
from torch.utils.data import DataLoader, TensorDataset
from vae_workload import examples_loss

from labutils import data, train
from labutils.nets import MLPVAE

BATCH_SIZE, LR = 128, 1e-3


def bare_epoch(model: MLPVAE, opt: torch.optim.Optimizer, x: torch.Tensor, gen: torch.Generator) -> None:
    """One epoch over x (N, 784) in shuffled minibatches, by slicing a random permutation."""
    order = torch.randperm(len(x), generator=gen).to(x.device)
    for start in range(0, len(x), BATCH_SIZE):
        opt.zero_grad(set_to_none=True)
        examples_loss(model, (x[order[start:start + BATCH_SIZE]],)).backward()
        opt.step()


def dataloader_epoch(model: MLPVAE, opt: torch.optim.Optimizer, loader: DataLoader) -> None:
    """One epoch of the standard DataLoader loop."""
    for (batch,) in loader:
        opt.zero_grad(set_to_none=True)
        examples_loss(model, (batch,)).backward()
        opt.step()


def clocks() -> tuple[float, float]:
    """(wall-clock seconds, CPU seconds of this process): wall is what a user waits, CPU is robust to machine load."""
    return time.perf_counter(), time.process_time()


def since(start: tuple[float, float]) -> tuple[float, float]:
    now = clocks()
    return now[0] - start[0], now[1] - start[1]


def main(argv: list[str] | None = None) -> dict[str, list[tuple[float, float]]]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--epochs", type=int, default=7, help="timed epochs per method (after 1 warm-up epoch)")
    parser.add_argument("--threads", type=int, default=1, help="torch.set_num_threads (fixed for the whole run)")
    parser.add_argument("--n", type=int, default=4000, help="training digits (a class-balanced subset)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if args.epochs < 1:
        raise ValueError(f"--epochs must be >= 1, got {args.epochs}")

    torch.set_num_threads(args.threads)
    torch.set_flush_denormal(True)
    x = data.load_mnist("train", n=args.n, seed=args.seed, verbose=False).x.flatten(1)  # (N, 784) on the CPU
    torch.manual_seed(args.seed)
    models = {name: MLPVAE() for name in ("labutils", "bare", "DataLoader")}
    for name in ("bare", "DataLoader"):
        models[name].load_state_dict(models["labutils"].state_dict())
    opts = {name: torch.optim.Adam(m.parameters(), lr=LR) for name, m in models.items()}
    bare_gen = torch.Generator().manual_seed(args.seed)
    loader = DataLoader(TensorDataset(x), batch_size=BATCH_SIZE, shuffle=True,
                        generator=torch.Generator().manual_seed(args.seed))
    others = {"bare": lambda: bare_epoch(models["bare"], opts["bare"], x, bare_gen),
              "DataLoader": lambda: dataloader_epoch(models["DataLoader"], opts["DataLoader"], loader)}
    times: dict[str, list[tuple[float, float]]] = {name: [] for name in models}  # (wall, CPU) per epoch
    last_exit = [clocks()]

    def interleave(epoch: int, _model: MLPVAE) -> None:
        if epoch > 1:  # the labutils epoch that just ended, with the previous epoch's checkpoint save
            times["labutils"].append(since(last_exit[0]))
        for name in ("bare", "DataLoader") if epoch % 2 else ("DataLoader", "bare"):
            start = clocks()
            others[name]()
            if epoch > 1:
                times[name].append(since(start))
        last_exit[0] = clocks()

    with tempfile.TemporaryDirectory() as tmp:
        train.fit(models["labutils"], examples_loss, x, epochs=args.epochs + 1, batch_size=BATCH_SIZE,
                  optimizer=opts["labutils"], seed=args.seed, checkpoint=Path(tmp) / "vae.pt",
                  config={"benchmark": "loop_vs_dataloader"}, on_epoch=interleave, desc="labutils.train.fit")

    print(f"{len(x)} digits, batch {BATCH_SIZE}, {args.epochs} timed epochs per method, "
          f"torch {torch.__version__}, {args.threads} thread(s)")
    median = {}
    for clock, k in (("CPU", 1), ("wall", 0)):
        median = {name: statistics.median(t[k] for t in ts) for name, ts in times.items()}
        for name, ts in times.items():
            every = ", ".join(f"{t[k]:.3f}" for t in ts)
            print(f"{clock:>4} {name:>10}: median {median[name]:.3f} s/epoch  (all: {every})")
        ratios = f"labutils/bare = {median['labutils'] / median['bare']:.3f}x, " \
                 f"DataLoader/labutils = {median['DataLoader'] / median['labutils']:.3f}x"
        print(ratios if clock == "wall" else f"(CPU time: {ratios})")
    return times


if __name__ == "__main__":
    main()
