"""The record's whole life after intake: retention, legal hold, crypto-shredding,
erasure, subject access, backups, key escrow and what a DPIA needs to know."""
