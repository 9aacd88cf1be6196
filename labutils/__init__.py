"""labutils: the tested plumbing under the genlabs notebooks, grouped by audience.

What the labs import: ``session`` (:func:`start`), ``profiles``, ``device``, ``data`` (MNIST, batches,
nearest neighbours), ``toy`` (targets with exact densities), ``nets`` (MLPs, the autoencoder and VAE,
critic banks), ``losses`` (GAN-family losses and fit_gan pairs), ``train`` (fit, fit_gan, checkpoints,
caches), ``modes`` (mode coverage), ``vae`` (the IWAE bound), ``embedding`` (Sammon; map quality),
``plot``, ``results`` (headline numbers), ``checks`` (:func:`check`: a claim asserted and recorded);
``yardstick`` (:func:`sample_quality`: one score for generated digits, every generator of the course);
plus ``arrays`` and ``files``, their shared input coercion and atomic writer.

Exact reference maths for the checks: ``exact`` (quadrature, f-divergences, optimal transport).

Tooling that never runs inside a lab: ``tools`` (notebook execution and references, grading);
``python -m labutils.notebooks`` and ``python -m labutils.grade`` forward to it.

A notebook starts with :func:`labutils.start`, which resolves the profile, seeds everything, picks the
device and prints the one-line environment report.
"""

from labutils.checks import check
from labutils.session import start
from labutils.yardstick import sample_quality

__all__ = ["check", "sample_quality", "start"]
__version__ = "0.1.0"
