"""The audit log page: filters by action, person, object type and day; read-only."""

from __future__ import annotations

from typing import Any

from cameras.services import site_create, site_update


def test_the_audit_log_filters_and_pages(people: Any, logged_in: Any, tenant_a: Any,
                                         in_tenant: Any) -> None:
    with in_tenant(tenant_a):
        site = site_create(actor=people.manager, name="Audited site")
        site_update(actor=people.owner, site=site, name="Audited site 2")
    client = logged_in("a", people.owner)
    page = client.get("/manage/audit/").content.decode()
    assert "site.create" in page and "site.update" in page and "Audited site 2" in page
    only = client.get("/manage/audit/", {"action": "site.update"}).content.decode()
    assert "<code>site.update</code>" in only and "<code>site.create</code>" not in only
    by_person = client.get("/manage/audit/", {"actor": "pb-manager"}).content.decode()
    assert "<code>site.create</code>" in by_person and "<code>site.update</code>" not in by_person
    typed = client.get("/manage/audit/", {"target_type": "cameras.site",
                                          "actor": "pb-"}).content.decode()
    assert "1 event." in typed
    future = client.get("/manage/audit/", {"date_from": "2100-01-01"}).content.decode()
    assert "No event matches these filters." in future
    reversed_range = client.get("/manage/audit/", {"date_from": "2026-02-02",
                                                   "date_to": "2026-02-01"})
    assert reversed_range.status_code == 400
    assert "The last day must not be before the first day." in reversed_range.content.decode()
    bad_action = client.get("/manage/audit/", {"action": "no.such"})
    assert bad_action.status_code == 400
    assert "Select a valid choice." in bad_action.content.decode()
    assert client.post("/manage/audit/").status_code == 405  # read-only
