"""Widgets shared by every screen: keyed tables that update in place, inputs."""
