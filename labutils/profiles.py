"""The "ci" and "full" parameter sets of a notebook, and "auto", which picks one for this machine.

A notebook's papermill ``parameters`` cell sets ``PROFILE``; tools that cannot pass parameters
(nbval, a plain ``jupyter nbconvert``) set the ``GENLABS_PROFILE`` environment variable, which wins.
``"auto"`` (the notebooks' default) means ``full`` on a CUDA or Apple MPS device and ``ci`` on a CPU,
so a student on a laptop without a GPU starts the run of a minute or two, not the one of an hour.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

PROFILE_ENV = "GENLABS_PROFILE"
PROFILES = ("ci", "full")
AUTO = "auto"


class Config(dict):
    """A dict whose keys also read as attributes (``cfg.epochs``); ``cfg.profile`` names the profile."""

    def __getattr__(self, key: str) -> Any:
        try:
            return self[key]
        except KeyError:
            raise AttributeError(
                f"config has no parameter {key!r}; it has: {', '.join(sorted(self))}"
            ) from None

    def __setattr__(self, key: str, value: Any) -> None:
        self[key] = value


def accelerator() -> str | None:
    """``"cuda"`` or ``"mps"`` when torch sees that device, else None (a CPU-only machine).

    ``$GENLABS_DEVICE=cpu`` counts as no accelerator: the run will be on the CPU, so size it for one.
    """
    import torch

    if (os.environ.get("GENLABS_DEVICE") or "").strip().lower() == "cpu":
        return None
    if torch.cuda.is_available():
        return "cuda"
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        return "mps"
    return None


def auto_profile() -> str:
    """What ``"auto"`` means here: ``full`` with a CUDA/MPS device, ``ci`` on a CPU."""
    return "full" if accelerator() else "ci"


def requested(profile: str | None) -> str:
    """The profile asked for, before ``auto`` is resolved: ``$GENLABS_PROFILE``, else ``profile``, else auto."""
    name = (os.environ.get(PROFILE_ENV) or profile or AUTO).strip().lower()
    if name not in (*PROFILES, AUTO):
        raise ValueError(
            f"unknown profile {name!r}: use one of {', '.join((*PROFILES, AUTO))} "
            f"(set PROFILE in the parameters cell or ${PROFILE_ENV})"
        )
    return name


def profile_name(profile: str | None) -> str:
    """The profile in force: ``$GENLABS_PROFILE`` if set, else ``profile``; ``auto`` resolved for this machine."""
    name = requested(profile)
    return auto_profile() if name == AUTO else name


def explain(profile: str | None) -> str:
    """One line saying which profile is in force, why, and how to change it (printed by ``labutils.start``)."""
    asked = requested(profile)
    name = auto_profile() if asked == AUTO else asked
    if os.environ.get(PROFILE_ENV):
        why = f"from ${PROFILE_ENV}={os.environ[PROFILE_ENV]}"
    elif asked == AUTO:
        dev = accelerator()
        why = f"auto: {'a ' + dev.upper() + ' device' if dev else 'no GPU, CPU only'}"
    else:
        why = f'PROFILE = "{asked}"'
    other = "ci" if name == "full" else "full"
    return (f'profile {name} ({why}); for the other size set PROFILE = "{other}" in the parameters cell'
            f" (or ${PROFILE_ENV}={other}, which wins)")


def resolve(profile: str | None, *, ci: Mapping[str, Any], full: Mapping[str, Any]) -> Config:
    """Pick the parameter set for ``profile`` (``ci``, ``full`` or ``auto``); both sets must name the same parameters.

    >>> resolve("ci", ci={"epochs": 2}, full={"epochs": 20}).epochs
    2
    """
    if set(ci) != set(full):
        raise ValueError(
            f"the ci and full profiles must set the same parameters; "
            f"only in ci: {sorted(set(ci) - set(full))}, only in full: {sorted(set(full) - set(ci))}"
        )
    name = profile_name(profile)
    cfg = Config(ci if name == "ci" else full)
    cfg["profile"] = name
    return cfg
