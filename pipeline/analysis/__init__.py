"""Analyses of a stored experiment: error taxonomy, flips vs FP32, alignments, robustness, calibration.

May import everything below the runner except `study`."""
