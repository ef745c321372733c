"""Metric definitions: a registry of stable ids, each with its charter entry and expression."""
