"""REST API of the current user, personal tokens, users, roles and object permissions."""
