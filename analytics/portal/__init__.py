"""The portal's top-level pages (dashboard, site page) and its shared layout helpers.

They live in analytics because they read across rooms: sites and cameras (cameras), the ledger's
rollups and live health (counting), series in the site's local time (analytics).
"""
