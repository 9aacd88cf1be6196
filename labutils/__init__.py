"""labutils: the tested plumbing under the genlabs notebooks.

One module per concern: ``device`` (accelerator, seeding, environment report), ``profiles``
("ci"/"full" parameter sets), ``data`` (MNIST and batches), ``toy`` (toy targets with exact
densities), ``train`` (fit loops, checkpoints, caches), ``losses`` (GAN-family losses),
``metrics``, ``embed``, ``divergences``, ``plot`` and ``results``.

A notebook starts with :func:`labutils.start`, which resolves the profile, seeds everything,
picks the device and prints the one-line environment report.
"""

from labutils.sample_quality import sample_quality as sample_quality  # the function shadows its module name
from labutils.session import start

__all__ = ["start"]
__version__ = "0.1.0"
