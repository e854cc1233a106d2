"""REST API of counting lines, zones, camera health and the event ledger."""
