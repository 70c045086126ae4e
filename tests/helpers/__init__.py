"""Shared test helpers: builders, servers, fixtures and scans (never tests themselves)."""
