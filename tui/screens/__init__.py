"""The screens of the ocrq TUI: experiments, one experiment, compare, studies, launch, help."""
