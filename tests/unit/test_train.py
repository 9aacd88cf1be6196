import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from torch import nn

from labutils import losses, toy, train
from labutils.train import checkpoint

SCRIPT = Path(__file__).parents[1] / "fixtures" / "scripts" / "train_run.py"


def _mse(model, batch):
    (x,) = batch
    return {"loss": ((model(x) - x) ** 2).mean(), "abs": (model(x) - x).abs().mean()}


def _model(seed=0):
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(6, 3), nn.BatchNorm1d(3), nn.Tanh(), nn.Linear(3, 6))  # 0-d int64 buffer


DATA = torch.rand(64, 6, generator=torch.Generator().manual_seed(0))


def test_fit_learns_and_logs_every_key():
    model = _model()
    hist = train.fit(model, _mse, DATA, epochs=15, batch_size=16, lr=1e-2, progress=False)
    assert len(hist) == 15 and hist["loss"][-1] < 0.5 * hist["loss"][0]
    assert set(hist.last) == {"epoch", "loss", "abs", "seconds"}
    assert list(hist.frame()["epoch"]) == list(range(1, 16))
    with pytest.raises(KeyError, match="no column 'acc'"):
        hist["acc"]


def test_fit_is_reproducible_for_a_seed():
    a, b = _model(), _model()
    train.fit(a, _mse, DATA, epochs=3, batch_size=16, seed=5, progress=False)
    train.fit(b, _mse, DATA, epochs=3, batch_size=16, seed=5, progress=False)
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))


def test_checkpoint_is_a_cache_and_refuses_another_config(tmp_path):
    path = tmp_path / "run.pt"
    snaps = lambda epoch, model: {"w": model[0].weight.detach().clone()}  # noqa: E731
    first = train.fit(_model(), _mse, DATA, epochs=3, batch_size=16, checkpoint=path, on_epoch=snaps,
                      config={"a": 1}, progress=False)
    model = _model()  # the same run again: the load replaces the initial weights by the trained ones
    again = train.fit(model, _mse, DATA, epochs=3, batch_size=16, checkpoint=path, on_epoch=snaps,
                      config={"a": 1}, progress=False)
    assert again.from_cache and again.rows == first.rows and len(again.snapshots) == 3
    assert torch.equal(again.snapshots[-1][1]["w"], model[0].weight)
    assert not torch.equal(model[0].weight, _model()[0].weight)
    with pytest.raises(RuntimeError, match="another run.*config.a"):
        train.fit(_model(), _mse, DATA, epochs=3, batch_size=16, checkpoint=path, config={"a": 2}, progress=False)
    with pytest.raises(RuntimeError, match="another run.*weights.model"):  # other initial weights: another run
        train.fit(_model(seed=99), _mse, DATA, epochs=3, batch_size=16, checkpoint=path, config={"a": 1},
                  progress=False)


def test_cache_trains_once_per_run_description_and_retrains_when_the_code_changes(build, monkeypatch):
    def run(**kw):
        return train.fit(_model(), _mse, DATA, epochs=2, batch_size=16, cache="03 vae (test)", progress=False, **kw)

    assert not run(config={"a": 1}).from_cache
    assert run(config={"a": 1}).from_cache  # same description: loaded
    assert not run(config={"a": 2}).from_cache  # other settings: another file, trained (no refusal)
    files = sorted(p.name for p in (build / "cache").glob("*.pt"))
    assert len(files) == 2 and all(f.startswith("03-vae-test-") for f in files), files
    monkeypatch.setattr(checkpoint, "code_fingerprint", lambda: "changed training code")
    assert not run(config={"a": 1}).from_cache  # same settings, changed labutils code: trained again
    with pytest.raises(ValueError, match="not both"):
        run(checkpoint=build / "x.pt")


def test_the_code_fingerprint_covers_the_training_sources_and_torch(monkeypatch, tmp_path):
    before = checkpoint.code_fingerprint()
    fake = tmp_path / "labutils"
    for name in checkpoint.TRAINING_CODE:
        (fake / name).parent.mkdir(parents=True, exist_ok=True)
        (fake / name).write_bytes((checkpoint.PACKAGE / name).read_bytes())
    monkeypatch.setattr(checkpoint, "PACKAGE", fake)
    assert checkpoint.code_fingerprint() == before
    (fake / "losses.py").write_text((fake / "losses.py").read_text() + "\n# a changed loss\n")
    assert checkpoint.code_fingerprint() != before
    (fake / "losses.py").write_bytes(b"")
    changed = checkpoint.code_fingerprint()
    monkeypatch.setattr(torch, "__version__", "0.0.0")
    assert checkpoint.code_fingerprint() != changed  # another torch version


def test_the_loss_source_is_part_of_the_description():
    def loss_a(model, batch):
        return _mse(model, batch)

    def loss_b(model, batch):
        return 2 * _mse(model, batch)["loss"]

    a = checkpoint.describe({}, {"m": _model()}, {"loss_fn": loss_a})
    b = checkpoint.describe({}, {"m": _model()}, {"loss_fn": loss_b})
    assert checkpoint.fingerprint(a) != checkpoint.fingerprint(b)


def test_initial_weights_and_the_global_random_state_are_part_of_the_description():
    def key():
        return checkpoint.fingerprint(checkpoint.describe({}, {"m": model}, {"loss_fn": _mse}))

    model = _model(seed=0)
    same = key()
    assert key() == same  # nothing drawn in between: a rerun of the same cell loads its cache
    torch.rand(1)  # a cell above drew from the global generator: noise in training would differ
    assert key() != same
    model = _model(seed=1)  # same architecture and same random state after it, other initial weights
    torch.manual_seed(0)
    other_init = key()
    model = _model(seed=0)
    torch.manual_seed(0)
    assert key() != other_init


def test_checkpoints_are_throttled_by_time_but_the_last_epoch_is_always_saved(tmp_path):
    path = tmp_path / "run.pt"
    seen = []
    train.fit(_model(), _mse, DATA, epochs=4, batch_size=16, checkpoint=path, checkpoint_every=3600,
              on_epoch=lambda epoch, model: seen.append(path.exists()), progress=False)
    assert seen == [False] * 4 and torch.load(path, weights_only=True)["step"] == 4
    seen.clear()
    train.fit(_model(), _mse, DATA, epochs=4, batch_size=16, checkpoint=tmp_path / "every.pt", checkpoint_every=0,
              on_epoch=lambda epoch, model: seen.append((tmp_path / "every.pt").exists()), progress=False)
    assert seen == [False, True, True, True]


def test_corrupt_checkpoint_is_not_trusted(tmp_path):
    path = tmp_path / "run.pt"
    path.write_bytes(b"not a checkpoint")
    with pytest.raises(RuntimeError, match="cannot be read safely"):
        train.fit(_model(), _mse, DATA, epochs=1, batch_size=16, checkpoint=path, progress=False)


def test_nan_loss_names_the_step():
    def exploding(model, batch):
        (x,) = batch
        loss = ((model(x) - x) ** 2).mean()
        return loss * float("nan") if exploding.calls == 6 else loss

    def counted(model, batch):
        exploding.calls += 1
        return exploding(model, batch)

    exploding.calls = 0
    with pytest.raises(FloatingPointError, match="became nan at step 6.*lower learning rate"):
        train.fit(_model(), counted, DATA, epochs=3, batch_size=16, progress=False)


def test_keyboard_interrupt_returns_history_and_keeps_checkpoint(tmp_path):
    def stop_at_3(epoch, model):
        if epoch == 3:
            raise KeyboardInterrupt

    path = tmp_path / "run.pt"
    hist = train.fit(_model(), _mse, DATA, epochs=10, batch_size=16, checkpoint=path, checkpoint_every=0,
                     on_epoch=stop_at_3, progress=False)
    assert hist.interrupted and len(hist) == 3
    assert torch.load(path, weights_only=True)["step"] == 2  # the last checkpoint written before Ctrl-C


def test_sigkill_mid_run_then_resume_gives_identical_weights(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[2])}
    ref_out = tmp_path / "ref.pt"
    subprocess.run([sys.executable, SCRIPT, tmp_path / "ref-ckpt.pt", ref_out], check=True, env=env,
                   capture_output=True)
    ckpt, out = tmp_path / "ckpt.pt", tmp_path / "out.pt"
    proc = subprocess.Popen([sys.executable, SCRIPT, ckpt, out, "0.5"], env=env, stdout=subprocess.PIPE, text=True)
    for line in proc.stdout:  # wait until three epochs are done, then kill without warning
        if line.startswith("epoch 3"):
            time.sleep(0.2)
            proc.send_signal(signal.SIGKILL)
            break
    proc.wait(timeout=60)
    assert proc.returncode == -signal.SIGKILL and not out.exists()
    killed_at = torch.load(ckpt, weights_only=True)["step"]
    assert 2 <= killed_at < 8  # killed mid-run, after some checkpoints
    subprocess.run([sys.executable, SCRIPT, ckpt, out], check=True, env=env, capture_output=True)
    ref, resumed = torch.load(ref_out, weights_only=True), torch.load(out, weights_only=True)
    assert all(torch.equal(ref[k], resumed[k]) for k in ref)


def _gan(seed=0):
    torch.manual_seed(seed)
    G = nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Linear(16, 2))
    D = nn.Sequential(nn.Linear(2, 16), nn.ReLU(), nn.Linear(16, 1))
    return G, D, torch.optim.Adam(G.parameters(), 1e-3), torch.optim.Adam(D.parameters(), 1e-3)


def _run_gan(steps, path=None, k=2, seed=0, interrupt_at=None):
    G, D, og, od = _gan(seed)
    ring = toy.ring()
    calls = {"d": 0}

    def d_loss(D, real, fake):
        calls["d"] += 1
        return losses.d_loss_minimax(D(real), D(fake))

    def snap(step, G):
        if step == interrupt_at:
            raise KeyboardInterrupt
        return G(torch.zeros(1, 4))

    hist = train.fit_gan(G, D, lambda n, g: ring.sample(n, g), d_loss=d_loss,
                         g_loss=lambda D, fake: losses.g_loss_nonsaturating(D(fake)), z_dim=4, steps=steps,
                         opt_g=og, opt_d=od, batch_size=32, k=k, log_every=10, snapshot_every=20,
                         on_snapshot=snap, checkpoint=path,
                         checkpoint_every=20, progress=False)
    return G, hist, calls["d"]


def test_fit_gan_runs_k_d_steps_logs_and_snapshots():
    _, hist, d_calls = _run_gan(40, k=3)
    assert d_calls == 120
    assert [r["step"] for r in hist.rows] == [10, 20, 30, 40]
    assert [s for s, _ in hist.snapshots] == [0, 20, 40]
    assert {"d_loss", "g_loss", "seconds"} <= set(hist.last)


def test_fit_gan_resume_after_interrupt_is_bit_identical(tmp_path):
    G_ref, hist_ref, _ = _run_gan(60)
    path = tmp_path / "gan.pt"
    _, stopped, _ = _run_gan(60, path, interrupt_at=40)  # Ctrl-C inside a snapshot at step 40
    assert stopped.interrupted and [r["step"] for r in stopped.rows] == [10, 20, 30, 40]
    assert torch.load(path, weights_only=True)["step"] == 20
    G, hist, _ = _run_gan(60, path)
    drop_time = lambda rows: [{k: v for k, v in r.items() if k != "seconds"} for r in rows]  # noqa: E731
    assert not hist.from_cache and drop_time(hist.rows) == drop_time(hist_ref.rows)
    assert all(torch.equal(p, q) for p, q in zip(G_ref.parameters(), G.parameters()))
    _, cached, d_calls = _run_gan(60, path)
    assert cached.from_cache and d_calls == 0
    with pytest.raises(RuntimeError, match="another run.*config.steps"):
        _run_gan(80, path)
