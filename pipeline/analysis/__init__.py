"""Analyses of a stored experiment: error taxonomy, flips vs FP32, alignments, robustness, calibration.

Modules: `lines` (the lines read, one recognizer's reading), `errors` (seven error kinds, confusions,
CER by length / class / font / augmentation), `changes` (flips, grown confusions, frame agreement),
`alignment` (CTC frame views, text rendering), `robustness` (corruptions, CER curves, gaps), `confidence`
(ECE, reliability, rejection), `training` (best vs last checkpoint, augmentations alone), `ranking`
(composite score across experiments), `figures`, `report` (analysis.md, summary rows) and `run`
(`analyze_experiment`, what the CLI calls). Plain functions: the CLI, the TUI (through analysis.json)
and a later study can use them.

May import everything below the runner except `study`."""
