"""A small, deterministic training run for the kill-and-resume test: python train_run.py CKPT OUT [SLEEP]."""

import sys
import time

import torch
from torch import nn

from labutils import train

torch.set_num_threads(1)
ckpt, out = sys.argv[1], sys.argv[2]
pause = float(sys.argv[3]) if len(sys.argv) > 3 else 0.0
torch.manual_seed(0)
x = torch.rand(256, 20)
model = nn.Sequential(nn.Linear(20, 8), nn.Tanh(), nn.Linear(8, 20))


def noisy_loss(model, batch):
    (xb,) = batch
    noisy = xb + 0.1 * torch.randn_like(xb)  # uses the global RNG: resume must restore it
    return ((model(noisy) - xb) ** 2).mean()


def slow_epoch(epoch, model):
    print(f"epoch {epoch} done", flush=True)
    time.sleep(pause)


train.fit(model, noisy_loss, x, epochs=8, batch_size=32, seed=1, checkpoint=ckpt, checkpoint_every=0,
          on_epoch=slow_epoch, config={"run": "kill-test"}, progress=False)
torch.save(model.state_dict(), out)
