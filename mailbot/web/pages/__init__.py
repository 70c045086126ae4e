"""The workspace's pages, one blueprint per area."""
