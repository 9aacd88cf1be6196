"""The pytorch/examples VAE trained two ways, side by side: a DataLoader loop and labutils.train.fit.

Same model (784-400-20), loss (BCE summed over pixels and batch + KL), optimiser (Adam 1e-3),
batch size (128), epochs (10, as pytorch/examples) and initial weights, on the stratified split of
``labutils.data.load_mnist`` (offline: 4,000 train / 1,000 test digits). ``fit`` is used as the
notebooks use it: progress bar, history and a checkpoint after every epoch. The two are interleaved
epoch by epoch (``fit``'s ``on_epoch`` callback runs one DataLoader epoch), for several seeds.

Reported: median time per epoch (wall clock and CPU) and the test loss per digit after training
(the pytorch/examples test loss: the loss summed over the test set / its size, here averaged over 10
noise draws that are the same for both models). The last line reads

    labutils/DataLoader time per epoch = Rx, test loss labutils - DataLoader = D +- SE nats per digit

with SE the standard error of the mean paired difference over seeds.

Usage: ``python benchmarks/vae.py [--epochs 10] [--seeds 0 1 2] [--threads 1]``
"""

from __future__ import annotations

import argparse
import math
import statistics
import tempfile
from pathlib import Path

import torch
from loop_vs_dataloader import BATCH_SIZE, LR, clocks, dataloader_epoch, since  # this folder
from torch.utils.data import DataLoader, TensorDataset
from vae_workload import examples_loss

from labutils import data, train
from labutils.nets import MLPVAE

TEST_DRAWS = 10


@torch.no_grad()
def test_loss_per_digit(model: MLPVAE, x_test: torch.Tensor, seed: int) -> float:
    """pytorch/examples' test loss (summed over the test set / its size), averaged over TEST_DRAWS noise draws."""
    rng = torch.get_rng_state()
    torch.manual_seed(seed)
    loss = sum(float(examples_loss(model, (xb,))) for _ in range(TEST_DRAWS) for xb in x_test.split(1000))
    torch.set_rng_state(rng)
    return loss / (TEST_DRAWS * len(x_test))


def run_seed(seed: int, epochs: int, x_train: torch.Tensor, x_test: torch.Tensor) -> dict[str, dict]:
    """Train both ways from the same initial weights, interleaved; per-epoch (wall, CPU) times and test losses."""
    torch.manual_seed(seed)
    models = {"labutils": MLPVAE(), "DataLoader": MLPVAE()}
    models["DataLoader"].load_state_dict(models["labutils"].state_dict())
    opts = {name: torch.optim.Adam(m.parameters(), lr=LR) for name, m in models.items()}
    loader = DataLoader(TensorDataset(x_train), batch_size=BATCH_SIZE, shuffle=True,
                        generator=torch.Generator().manual_seed(seed))
    times: dict[str, list[tuple[float, float]]] = {name: [] for name in models}
    last_exit = [clocks()]

    def interleave(epoch: int, _model: MLPVAE) -> None:
        if epoch > 1:  # epoch 1 is the warm-up; a labutils epoch includes the previous checkpoint save
            times["labutils"].append(since(last_exit[0]))
        start = clocks()
        dataloader_epoch(models["DataLoader"], opts["DataLoader"], loader)
        if epoch > 1:
            times["DataLoader"].append(since(start))
        last_exit[0] = clocks()

    with tempfile.TemporaryDirectory() as tmp:
        train.fit(models["labutils"], examples_loss, x_train, epochs=epochs, batch_size=BATCH_SIZE,
                  optimizer=opts["labutils"], seed=seed, checkpoint=Path(tmp) / "vae.pt",
                  config={"benchmark": "vae"}, on_epoch=interleave, desc=f"labutils.train.fit, seed {seed}")
    return {name: {"times": times[name], "test_loss": test_loss_per_digit(m, x_test, seed=10_000 + seed)}
            for name, m in models.items()}


def median_time(run: dict, clock: int) -> float:
    """Median seconds per epoch of one method's run; clock 0 = wall, 1 = CPU."""
    return statistics.median(t[clock] for t in run["times"])


def main(argv: list[str] | None = None) -> dict[int, dict[str, dict]]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--threads", type=int, default=1, help="torch.set_num_threads (fixed for the whole run)")
    args = parser.parse_args(argv)
    if args.epochs < 2:
        raise ValueError(f"--epochs must be >= 2 (the first epoch is a warm-up), got {args.epochs}")

    torch.set_num_threads(args.threads)
    torch.set_flush_denormal(True)
    x_train = data.load_mnist("train", verbose=False).x.flatten(1)
    x_test = data.load_mnist("test", verbose=False).x.flatten(1)
    runs = {seed: run_seed(seed, args.epochs, x_train, x_test) for seed in args.seeds}

    print(f"{len(x_train)} train / {len(x_test)} test digits, batch {BATCH_SIZE}, {args.epochs} epochs, "
          f"seeds {args.seeds}, torch {torch.__version__}, {args.threads} thread(s)")
    for seed, run in runs.items():
        for name, r in run.items():
            print(f"seed {seed} {name:>10}: {median_time(r, 0):.3f} s/epoch wall, {median_time(r, 1):.3f} s/epoch CPU "
                  f"(medians), test loss {r['test_loss']:.2f} nats/digit")
    ratio = {k: statistics.median(median_time(run["labutils"], k) / median_time(run["DataLoader"], k)
                                  for run in runs.values()) for k in (0, 1)}
    diffs = [run["labutils"]["test_loss"] - run["DataLoader"]["test_loss"] for run in runs.values()]
    se = statistics.stdev(diffs) / math.sqrt(len(diffs)) if len(diffs) > 1 else float("nan")
    print(f"(CPU time: labutils/DataLoader = {ratio[1]:.3f}x)")
    print(f"labutils/DataLoader time per epoch = {ratio[0]:.3f}x, "
          f"test loss labutils - DataLoader = {statistics.mean(diffs):+.2f} +- {se:.2f} nats per digit")
    return runs


if __name__ == "__main__":
    main()
