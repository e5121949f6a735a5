"""Widgets of the experiment screen: charts, epoch and variant tables, artifacts, log tail."""
