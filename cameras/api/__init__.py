"""REST API of sites and cameras (nothing imports this package but the URL conf)."""
