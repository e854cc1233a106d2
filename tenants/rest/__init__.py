"""The REST plumbing every app's API uses: one error shape and its exception handler, strict
query parameters and JSON fields, paging, per-tenant throttles and the OpenAPI schema class.

A plain package of the shared core (not a Django app): it knows no app above ``tenants``, so
``config.settings.rest`` and every app's ``api/`` can import it without a cycle.
"""
