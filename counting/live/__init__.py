"""Live counts over WebSockets: consumers, routing and publishing after the ledger commit."""
