"""Training: the loops (:func:`fit`, :func:`fit_gan`), what they return (:class:`History`), and checkpoints.

``from labutils import train``; ``train.fit(model, loss_fn, data, epochs=..., cache="03-vae")``.
"""

from labutils.train.history import History
from labutils.train.loops import fit, fit_gan

__all__ = ["History", "fit", "fit_gan"]
