"""Constants of tenant provisioning."""

import re

SLUG_PATTERN = re.compile(r"^[a-z][a-z0-9_]{1,47}$")
RESERVED_SLUGS = frozenset(
    {"public", "information_schema", "default", "admin", "www", "api", "static", "template"}
)
DOMAIN_PATTERN = re.compile(
    r"^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$"
)


class Role:
    """The three built-in roles, stored as groups in every tenant schema."""

    OWNER = "Owner"
    MANAGER = "Manager"
    VIEWER = "Viewer"
    ALL = (OWNER, MANAGER, VIEWER)
