"""Placeholder until the fake server lands."""
