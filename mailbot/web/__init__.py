"""The CSCP team's web workspace."""
