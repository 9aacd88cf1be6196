"""Small networks shared by the GAN notebooks."""

from __future__ import annotations

from torch import nn


def mlp(d_in: int, d_out: int, width: int, depth: int) -> nn.Sequential:
    """``depth`` hidden layers of ``width`` ReLU units: (B, d_in) -> (B, d_out); depth 0 is one linear map."""
    if min(d_in, d_out, width) < 1 or depth < 0:
        raise ValueError(f"mlp needs d_in, d_out, width >= 1 and depth >= 0, got {d_in}, {d_out}, {width}, {depth}")
    layers: list[nn.Module] = []
    d = d_in
    for _ in range(depth):
        layers += [nn.Linear(d, width), nn.ReLU()]
        d = width
    return nn.Sequential(*layers, nn.Linear(d, d_out))
