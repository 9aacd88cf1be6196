"""The "ci" and "full" parameter sets of a notebook.

A notebook's papermill ``parameters`` cell sets ``PROFILE``; tools that cannot pass parameters
(nbval, a plain ``jupyter nbconvert``) set the ``GENLABS_PROFILE`` environment variable, which wins.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

PROFILE_ENV = "GENLABS_PROFILE"
PROFILES = ("ci", "full")


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


def profile_name(profile: str | None) -> str:
    """The profile in force: ``$GENLABS_PROFILE`` if set, else ``profile``; checked against PROFILES."""
    name = os.environ.get(PROFILE_ENV) or profile or "full"
    name = name.strip().lower()
    if name not in PROFILES:
        raise ValueError(
            f"unknown profile {name!r}: use one of {', '.join(PROFILES)} "
            f"(set PROFILE in the parameters cell or ${PROFILE_ENV})"
        )
    return name


def resolve(profile: str | None, *, ci: Mapping[str, Any], full: Mapping[str, Any]) -> Config:
    """Pick the parameter set for ``profile``; both sets must name the same parameters.

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
