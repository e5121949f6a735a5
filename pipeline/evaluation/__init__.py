"""Evaluation: predict over batches, recognition metrics, fidelity, latency and memory timing.

May import core, config, data and models; never training, compression or deployment."""
