"""Actions: what the core does for each outcome a handler returns (one class per action)."""
