"""Shared fixtures: the fake Bot API plugin and the database/settings fixtures."""

pytest_plugins = ["tests.fake_telegram.fixtures"]
