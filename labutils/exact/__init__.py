"""Exact reference maths that the labs' checks compare against (no training, no sampling noise).

``quadrature`` (one grid, one integrator, densities and log-densities on it; notebook 04),
``fdivergences`` (the f-divergence table and its quadrature; notebook 07), ``transport`` (exact
optimal transport and Wasserstein distances; notebook 08).
"""
