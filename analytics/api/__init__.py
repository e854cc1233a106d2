"""REST API of count and occupancy series."""
