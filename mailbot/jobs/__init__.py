"""The working morning's jobs: chasers to referrers and the team's queue digest."""
