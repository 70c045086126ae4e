"""The SPRG: meeting calendar, agenda pack, pre-meeting digest, decisions."""
