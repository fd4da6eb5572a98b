"""Test suites that plugins import to check their components against the
core contracts (pytest is needed to run them, not to import retrikt)."""
