"""Training loops: ``fit`` for reconstruction models (AE, VAE, classifiers), ``fit_gan`` for GANs.

Both show a ``tqdm.auto`` bar with the live loss, return a :class:`History`, checkpoint atomically
(model, optimiser and RNG state) and resume bit-identically on the CPU, turn Ctrl-C into "return
what we have", and stop on a NaN/inf loss naming the step. A finished checkpoint is a cache: with
``cache="03-vae"`` re-running an unchanged notebook loads instead of training, and any change of
settings, networks, loss source or training code trains again (:mod:`labutils.train.checkpoint`).
The loss itself is the caller's function, so the objective stays in the notebook.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import torch
from torch import nn
from tqdm.auto import tqdm

from labutils.data import batches
from labutils.train.checkpoint import Resumable, cache_file, describe
from labutils.train.history import History

Loss = torch.Tensor | Mapping[str, torch.Tensor]


def _as_dict(out: Loss) -> dict[str, torch.Tensor]:
    d = dict(out) if isinstance(out, Mapping) else {"loss": out}
    if "loss" not in d:
        raise ValueError(f"a loss function returning a dict must include 'loss'; got keys {list(d)}")
    return d


def _check_finite(values: list[torch.Tensor], first_step: int, what: str, kept: str) -> None:
    """Raise if any logged value is NaN/inf, naming the (1-based) step; ``values[0]`` is step ``first_step``."""
    finite = torch.isfinite(torch.stack(values))
    if not bool(finite.all()):
        bad = first_step + int((~finite).nonzero()[0])
        raise FloatingPointError(
            f"{what} became {float(torch.stack(values)[bad - first_step])} at step {bad}{kept}. "
            "Try a lower learning rate, gradient clipping, or check the loss for log(0)/division by zero."
        )


def _autocast(device: torch.device, amp: bool):
    if amp and device.type == "cuda":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()


def _device_of(module: nn.Module) -> torch.device:
    return next(module.parameters()).device


@contextlib.contextmanager
def _interruptible(hist: History, bar: tqdm, saver: Resumable, unit: str) -> Iterator[None]:
    """Ctrl-C inside the block ends training and returns what we have; the bar always closes."""
    try:
        yield
    except KeyboardInterrupt:
        hist.interrupted = True
        print(f"interrupted after {len(hist.rows)} {unit}: returning the history so far{saver.kept()}")
    finally:
        bar.close()


def _resumable(cache: str | None, checkpoint: str | Path | None, description: dict[str, str],
               models: Mapping[str, nn.Module], optims: Mapping[str, torch.optim.Optimizer],
               gen: torch.Generator) -> Resumable:
    """Where the run is saved: ``checkpoint`` (a path) or the cache file named by ``cache`` and the description."""
    if cache is not None and checkpoint is not None:
        raise ValueError("pass cache='name' (a file per run description) or checkpoint=path, not both")
    path = cache_file(cache, description) if cache is not None else checkpoint
    return Resumable(path, description, models, optims, gen)


def fit(model: nn.Module, loss_fn: Callable[[nn.Module, tuple[torch.Tensor, ...]], Loss],
        data: torch.Tensor | Sequence[torch.Tensor], *, epochs: int, batch_size: int = 128, lr: float = 1e-3,
        optimizer: torch.optim.Optimizer | None = None, seed: int = 0, cache: str | None = None,
        checkpoint: str | Path | None = None, checkpoint_every: float = 60.0, config: Mapping[str, Any] | None = None,
        on_epoch: Callable[[int, nn.Module], Any] | None = None, amp: bool = True, progress: bool = True,
        desc: str = "fit") -> History:
    """Minimise ``loss_fn(model, batch)`` over minibatches of ``data`` for ``epochs`` epochs.

    data: a tensor (N, ...) or a sequence of tensors sharing N, moved to the model's device;
    ``batch`` is the tuple of their (B, ...) slices. ``loss_fn`` returns a scalar or a dict with
    ``"loss"`` (the other entries are logged as epoch means). Default optimiser: Adam(lr).
    ``on_epoch(epoch, model)`` runs after each epoch (epoch 1..epochs); what it returns, if not None,
    is kept in ``history.snapshots`` and in the checkpoint (tensors, numbers, dicts).
    ``cache="name"`` trains once and loads afterwards (file named by ``name`` and the run description:
    ``config`` holds what the description cannot see, such as a data fingerprint); ``checkpoint=path``
    saves to and resumes from a fixed file instead. The checkpoint is written after the last epoch
    and after any epoch ending ``checkpoint_every`` seconds or more after the previous write (a write
    costs ~10-40 ms: per epoch it would slow short epochs measurably, see benchmarks/RESULTS.md).
    """
    device = _device_of(model)
    tensors = tuple(t.to(device) for t in ((data,) if isinstance(data, torch.Tensor) else data))
    opt = optimizer or torch.optim.Adam(model.parameters(), lr=lr)
    gen = torch.Generator().manual_seed(seed)
    run = describe({**(config or {}), "loop": "fit", "epochs": epochs, "batch_size": batch_size,
                    "seed": seed, "optimizer": repr(opt)}, {"model": model}, {"loss_fn": loss_fn})
    saver = _resumable(cache, checkpoint, run, {"model": model}, {"opt": opt}, gen)
    hist, start = saver.restore()
    hist.from_cache = start >= epochs
    n_batches = -(-tensors[0].shape[0] // batch_size)
    last_save = time.perf_counter()
    bar = tqdm(total=epochs * n_batches, initial=start * n_batches, desc=desc, disable=not progress)
    with _interruptible(hist, bar, saver, "epochs"):
        for epoch in range(start + 1, epochs + 1):
            model.train()
            t0, sums, losses = time.perf_counter(), {}, []
            for batch in batches(*tensors, batch_size=batch_size, shuffle=True, generator=gen):
                opt.zero_grad(set_to_none=True)
                with _autocast(device, amp):
                    out = _as_dict(loss_fn(model, batch))
                out["loss"].backward()
                opt.step()
                losses.append(out["loss"].detach().float())
                for k, v in out.items():
                    sums[k] = sums.get(k, 0.0) + v.detach().float()
                bar.update(1)
            _check_finite(losses, (epoch - 1) * n_batches + 1, "the loss", saver.kept())
            row = {"epoch": epoch, **{k: float(v) / len(losses) for k, v in sums.items()},
                   "seconds": time.perf_counter() - t0}
            hist.rows.append(row)
            bar.set_postfix(loss=f"{row['loss']:.4g}")
            if on_epoch is not None and (snap := on_epoch(epoch, model)) is not None:
                hist.snapshots.append((epoch, snap))
            if epoch == epochs or time.perf_counter() - last_save >= checkpoint_every:
                last_save = time.perf_counter()
                saver.save(epoch, hist)
    model.eval()
    return hist


def _real_sampler(real, device: torch.device) -> Callable[[int, torch.Generator], Any]:
    """Turn a data tensor / tuple of tensors (sampled with replacement) or a callable into a sampler."""
    if callable(real):
        def sample(n: int, gen: torch.Generator):
            out = real(n, gen)
            return tuple(t.to(device) for t in out) if isinstance(out, tuple) else out.to(device)
        return sample
    tensors = (real,) if isinstance(real, torch.Tensor) else tuple(real)
    tensors = tuple(t.to(device) for t in tensors)

    def sample_data(n: int, gen: torch.Generator):
        idx = torch.randint(tensors[0].shape[0], (n,), generator=gen).to(device)
        picked = tuple(t[idx] for t in tensors)
        return picked[0] if len(picked) == 1 else picked
    return sample_data


def fit_gan(G: nn.Module, D: nn.Module, real, *, d_loss: Callable[..., Loss], g_loss: Callable[..., Loss],
            z_dim: int, steps: int, opt_g: torch.optim.Optimizer, opt_d: torch.optim.Optimizer,
            batch_size: int = 64, k: int = 1, seed: int = 0,
            generate: Callable[[nn.Module, torch.Tensor, Any], Any] | None = None,
            after_d_step: Callable[[nn.Module], None] | None = None,
            log_every: int = 50, snapshot_every: int | None = None,
            on_snapshot: Callable[[int, nn.Module], Any] | None = None,
            cache: str | None = None, checkpoint: str | Path | None = None, checkpoint_every: int = 500,
            config: Mapping[str, Any] | None = None, amp: bool = True, progress: bool = True,
            desc: str = "GAN") -> History:
    """The lecture's algorithm: per step, ``k`` discriminator updates, then one generator update.

    real: data (N, ...) or a tuple of tensors sampled with replacement, or ``real(n, generator)``.
    z ~ N(0, I) of shape (B, z_dim); ``generate(G, z, real_batch)`` makes fakes (default ``G(z)``;
    a conditional GAN returns ``(images, labels)``). The discriminator minimises
    ``d_loss(D, real_batch, fake_batch)`` (fakes detached), the generator ``g_loss(D, fake_batch)``.
    ``after_d_step(D)`` runs after each D update (e.g. WGAN weight clipping). History rows are means
    over ``log_every`` steps; ``on_snapshot(step, G)`` runs at step 0 and every ``snapshot_every``
    steps, and what it returns is kept (also in the checkpoint, so a cached run still has them).
    ``cache``/``checkpoint``/``config``: as in :func:`fit` (checkpoints every ``checkpoint_every`` steps).
    """
    device = _device_of(G)
    sample_real = _real_sampler(real, device)
    gen = torch.Generator().manual_seed(seed)
    run = describe({**(config or {}), "loop": "fit_gan", "steps": steps, "batch_size": batch_size,
                    "k": k, "z_dim": z_dim, "seed": seed, "opt_g": repr(opt_g), "opt_d": repr(opt_d)},
                   {"G": G, "D": D},
                   {"d_loss": d_loss, "g_loss": g_loss, "generate": generate, "after_d_step": after_d_step})
    saver = _resumable(cache, checkpoint, run, {"G": G, "D": D}, {"G": opt_g, "D": opt_d}, gen)
    hist, start = saver.restore()
    hist.from_cache = start >= steps

    def snapshot(step: int) -> None:
        if on_snapshot is not None and snapshot_every and step % snapshot_every == 0:
            G.eval()
            with torch.no_grad():
                value = on_snapshot(step, G)
            G.train()
            if value is not None:
                hist.snapshots.append((step, value))

    def noise() -> torch.Tensor:
        return torch.randn(batch_size, z_dim, generator=gen).to(device)

    generate = generate or (lambda G_, z, _real: G_(z))
    if start == 0:
        snapshot(0)
    bar = tqdm(total=steps, initial=start, desc=desc, disable=not progress)
    window: dict[str, list[torch.Tensor]] = {}
    t0 = time.perf_counter()
    with _interruptible(hist, bar, saver, "logged rows"):
        G.train()
        D.train()
        for step in range(start + 1, steps + 1):
            for _ in range(k):
                real_batch = sample_real(batch_size, gen)
                with torch.no_grad(), _autocast(device, amp):
                    fake = generate(G, noise(), real_batch)
                opt_d.zero_grad(set_to_none=True)
                with _autocast(device, amp):
                    d_out = _as_dict(d_loss(D, real_batch, fake))
                d_out["loss"].backward()
                opt_d.step()
                if after_d_step is not None:
                    after_d_step(D)
            opt_g.zero_grad(set_to_none=True)
            with _autocast(device, amp):
                g_out = _as_dict(g_loss(D, generate(G, noise(), real_batch)))
            g_out["loss"].backward()
            opt_g.step()
            for prefix, out in (("d_", d_out), ("g_", g_out)):
                for name, v in out.items():
                    window.setdefault(prefix + name, []).append(v.detach().float())
            bar.update(1)
            if step % log_every == 0 or step == steps:
                first = step - len(window["d_loss"]) + 1
                _check_finite(window["d_loss"], first, "the discriminator loss", saver.kept())
                _check_finite(window["g_loss"], first, "the generator loss", saver.kept())
                row = {"step": step, **{n: float(torch.stack(v).mean()) for n, v in window.items()},
                       "seconds": time.perf_counter() - t0}
                hist.rows.append(row)
                bar.set_postfix(d=f"{row['d_loss']:.3g}", g=f"{row['g_loss']:.3g}")
                window = {}
            snapshot(step)
            if step % checkpoint_every == 0 or step == steps:
                saver.save(step, hist)
    G.eval()
    D.eval()
    return hist
