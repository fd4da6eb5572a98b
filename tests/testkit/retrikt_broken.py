"""A plugin whose import fails: it must be reported, never break the CLI."""

raise ImportError("this plugin is broken on purpose")
