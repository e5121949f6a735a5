"""Optuna searches over compression settings: search spaces, objectives, workers (journal file or RDB storage).

May import everything below the runner except `analysis`."""
