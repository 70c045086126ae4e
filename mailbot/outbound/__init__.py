"""Outbound mail: one way to make and queue any message, and the drainer that sends it."""
