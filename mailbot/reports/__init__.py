"""Reports for the partnership: the year's picture for its annual report."""
