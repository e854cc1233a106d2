"""Personal API tokens and the shared pieces of the REST API (auth, errors, paging, throttles)."""
