"""Reports: comparison tables (`comparison.md`, `quantization_report.json`) and figures (matplotlib, Agg).

May import core, config, evaluation; never variants or the runner."""
