"""Platform operations on the public schema: provisioning and deleting tenants (services) and
the platform admin. A plain package, not a Django app; it sits above the tenant's people
(``tenants.accounts``: the first owner and the role groups) and the audit trail, which is why
it is not part of the shared core in ``tenants/``.
"""
