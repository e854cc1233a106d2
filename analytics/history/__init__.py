"""The history page: counts and occupancy over a chosen range, as chart, table and CSV."""
