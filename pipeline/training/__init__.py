"""Training: `fit` with callbacks (early stop, target CER, time budget, a search's pruner), optimizers,
schedules and EMA. May import core, config, models and evaluation."""
