"""Reusable widgets of the ocrq TUI, grouped by what they show."""
