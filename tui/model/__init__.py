"""The TUI's model: store reading and polling, config fields for the launch form, process launching,
formatting and plots as plain text. Never imports textual: screens and widgets are built on top of it."""
