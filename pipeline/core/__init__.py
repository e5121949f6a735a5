"""Foundations every other package stands on: events, charset, device and CPU features, checkpoints,
atomic file writes. Imports torch, numpy and the standard library; never another `pipeline` package."""
