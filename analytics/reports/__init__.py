"""Exports (CSV, XLSX, PDF) of count and occupancy series, and scheduled e-mailed reports."""
