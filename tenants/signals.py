"""Signals of a tenant's life that rooms above the core act on (the core imports none of them).

- ``tenant_suspended``: sent on commit after a tenant was suspended (``is_active`` False), with
  ``tenant``; receivers stop the tenant's running work (counting stops its streams).
- ``tenant_deleting``: sent before a tenant's schema is dropped, with ``tenant`` (already
  inactive) and ``wait_s``: receivers stop the tenant's running work and may wait up to
  ``wait_s`` seconds for it to end (a stream flushes and releases its lease), so that nothing
  writes into a schema that is being dropped.
"""

from __future__ import annotations

from django.dispatch import Signal

tenant_suspended = Signal()
tenant_deleting = Signal()
