"""Compression variants: the registry (kind -> typed spec, builder, dependencies, guard advice), the builders,
produce and re-measure, the typed result row, the deploy manifest and loading a stored variant.

May import every lower package (core, config, data, models, evaluation, training, compress, deploy, reports)."""
