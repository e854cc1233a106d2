"""Placeholder; the public API is documented once the package is complete."""
