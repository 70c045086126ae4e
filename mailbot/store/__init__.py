"""The store: typed models, envelope encryption and migrations."""
