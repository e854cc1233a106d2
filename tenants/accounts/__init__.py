"""The tenant's people: users and their roles, personal API tokens, the user admin and the
people API (``/api/v1/me``, ``tokens``, ``users``, ``roles``)."""
