"""2-D maps of high-dimensional points (notebook 01): ``sammon`` computes Sammon's mapping, ``quality``
measures any map (Sammon's stress, trustworthiness, k-NN accuracy)."""
