"""Bad input gets a clear 4xx with the documented error shape, and changes nothing."""

from __future__ import annotations

from typing import Any

import pytest

from tests.api import factories


@pytest.fixture
def owner_client(world_a: Any, api_client: Any) -> Any:
    return api_client("a", world_a.owner)


def _error(response: Any, status: int = 400) -> dict[str, Any]:
    assert response.status_code == status, response.content
    return response.json()["error"]  # type: ignore[no-any-return]


def test_malformed_json_is_a_400(owner_client: Any, world_a: Any, state_of: Any) -> None:
    before = state_of(world_a.tenant)
    response = owner_client.generic("POST", "/api/v1/sites/", '{"name": "x",',
                                    content_type="application/json")
    error = _error(response)
    assert error["code"] == "parse_error"
    assert error["message"].startswith("JSON parse error")
    assert state_of(world_a.tenant) == before


def test_a_non_json_body_is_a_415(owner_client: Any) -> None:
    response = owner_client.generic("POST", "/api/v1/sites/", "name=x",
                                    content_type="application/x-www-form-urlencoded")
    assert _error(response, 415)["code"] == "unsupported_media_type"


@pytest.mark.parametrize("path", ["/api/v1/cameras/?colour=red", "/api/v1/counts/?colour=red",
                                  "/api/v1/me/?colour=red", "/api/v1/events/?colour=red"])
def test_unknown_query_parameters_are_a_400(owner_client: Any, path: str) -> None:
    error = _error(owner_client.get(path))
    assert error == {"code": "invalid", "message": "Unknown query parameter.",
                     "fields": {"colour": ["Unknown query parameter."]}}


@pytest.mark.parametrize(("url", "fragment"), [
    ("file:///etc/passwd", "The scheme 'file:' is not accepted"),
    ("concat:/etc/passwd", "Only rtsp://, rtsps://, http:// and https:// URLs are accepted"),
    ("http://169.254.169.254/latest/meta-data", "a cloud metadata address"),
    ("rtsp://admin:secret@10.0.0.5/stream", "Do not put credentials in the URL"),
    ("rtsp://127.0.0.1/stream", "a loopback address"),
])
def test_camera_urls_follow_the_url_policy(owner_client: Any, world_a: Any, state_of: Any,
                                           url: str, fragment: str) -> None:
    before = state_of(world_a.tenant)
    error = _error(owner_client.post("/api/v1/cameras/", {
        "site": world_a.site.pk, "name": "Door", "stream_url": url}, format="json"))
    assert list(error["fields"]) == ["stream_url"]
    assert fragment in error["fields"]["stream_url"][0]
    assert state_of(world_a.tenant) == before


@pytest.mark.parametrize(("body", "field", "message"), [
    ({"x1": 1.5}, "x1", "Ensure this value is less than or equal to 1.0."),
    ({"y2": -0.1}, "y2", "Ensure this value is greater than or equal to 0.0."),
    ({"x1": 0.3, "y1": 0.3, "x2": 0.3, "y2": 0.3}, "x2",
     "The line's start and end are the same point; draw a segment."),
])
def test_lines_need_coordinates_in_0_1_and_a_length(owner_client: Any, world_a: Any,
                                                    state_of: Any, body: dict[str, Any],
                                                    field: str, message: str) -> None:
    before = state_of(world_a.tenant)
    line = {"camera": world_a.camera.pk, "name": "Gate", "x1": 0.1, "y1": 0.1, "x2": 0.9,
            "y2": 0.9, **body}
    error = _error(owner_client.post("/api/v1/lines/", line, format="json"))
    assert error["fields"] == {field: [message]}
    assert state_of(world_a.tenant) == before


@pytest.mark.parametrize(("points", "message"), [
    ([[0.1, 0.1], [0.9, 0.9]], "Ensure this field has at least 3 elements."),
    ([[0.1, 0.1], [0.9, 0.9], [0.9, 0.1], [0.1, 0.9]],
     "The polygon has zero area or crossing edges; list its corners in order around the "
     "boundary."),
    ([[0.1, 0.1], [0.5, 0.5], [0.9, 0.9]],
     "The polygon has zero area or crossing edges; list its corners in order around the "
     "boundary."),
])
def test_zones_need_a_simple_polygon(owner_client: Any, world_a: Any, state_of: Any,
                                     points: list[list[float]], message: str) -> None:
    before = state_of(world_a.tenant)
    error = _error(owner_client.post("/api/v1/zones/", {
        "camera": world_a.camera.pk, "name": "Queue", "points": points}, format="json"))
    assert error["fields"] == {"points": [message]}
    assert state_of(world_a.tenant) == before


def test_sites_need_an_iana_timezone(owner_client: Any, world_a: Any, state_of: Any) -> None:
    before = state_of(world_a.tenant)
    error = _error(owner_client.post("/api/v1/sites/", {"name": "Mars base",
                                                        "timezone": "Mars/Olympus"},
                                     format="json"))
    assert error["fields"] == {"timezone": [
        "'Mars/Olympus' is not an IANA timezone; use a name such as Europe/Paris or "
        "America/New_York."]}
    assert state_of(world_a.tenant) == before


@pytest.mark.parametrize(("query", "fields"), [
    ({"from": "2026-03-02T00:00:00Z", "to": "2026-03-01T00:00:00Z"},
     {"from": ["'from' must be before 'to'."]}),
    ({"from": "2026-03-01T00:00:00Z", "to": "2026-03-04T00:00:00Z", "bucket": "minute"},
     {"to": ["A minute series covers at most 2 days; shorten the range or use a larger "
             "bucket."]}),
    ({"from": "2026-01-01T00:00:00Z", "to": "2026-06-01T00:00:00Z", "bucket": "hour"},
     {"to": ["A hour series covers at most 93 days; shorten the range or use a larger "
             "bucket."]}),
    ({"from": "yesterday", "to": "2026-03-04T00:00:00Z"},
     {"from": ["Datetime has wrong format. Use one of these formats instead: "
               "YYYY-MM-DDThh:mm[:ss[.uuuuuu]][+HH:MM|-HH:MM|Z]."]}),
    ({"from": "2026-03-01T00:00:00Z", "to": "2026-03-02T00:00:00Z", "bucket": "fortnight"},
     {"bucket": ['"fortnight" is not a valid choice.']}),
])
def test_count_windows_are_checked(owner_client: Any, world_a: Any, query: dict[str, str],
                                   fields: dict[str, list[str]]) -> None:
    error = _error(owner_client.get("/api/v1/counts/", {"camera": world_a.camera.pk, **query}))
    assert error["fields"] == fields


def test_counts_need_exactly_one_scope(owner_client: Any, world_a: Any) -> None:
    error = _error(owner_client.get("/api/v1/counts/", {
        "camera": world_a.camera.pk, "line": world_a.line.pk,
        "from": "2026-03-01T00:00:00Z", "to": "2026-03-02T00:00:00Z"}))
    assert error["fields"] == {"site": ["Give exactly one of site, camera or line."]}


def test_page_size_is_capped(owner_client: Any, world_a: Any, in_tenant: Any) -> None:
    # given 250 sites
    with in_tenant(world_a.tenant):
        factories.SiteFactory.create_batch(247)
    # when a page of 1000 is asked for
    body = owner_client.get("/api/v1/sites/", {"page_size": 1000}).json()
    # then at most 200 come back
    assert body["count"] == 250
    assert len(body["results"]) == 200


@pytest.mark.parametrize("page", ["", "x", "0", "99"])
def test_a_page_that_is_not_one_is_a_404_not_the_first_page(owner_client: Any, world_a: Any,
                                                             page: str) -> None:
    # when a list is asked for an empty, malformed, zero or missing page
    response = owner_client.get(f"/api/v1/sites/?page={page}")
    # then it is refused, not answered with page 1
    assert response.status_code == 404
    assert "results" not in response.json()


def test_the_first_page_is_the_default(owner_client: Any, world_a: Any) -> None:
    first = owner_client.get("/api/v1/sites/").json()
    assert first["count"] >= 1 and first["results"]
    assert owner_client.get("/api/v1/sites/?page=1").json() == first


def test_ledger_pages_by_cursor_in_time_order(owner_client: Any, world_a: Any,
                                              in_tenant: Any) -> None:
    from datetime import UTC, datetime, timedelta

    # given 5 more events of the line, out of insertion order
    with in_tenant(world_a.tenant):
        base = datetime(2026, 3, 1, 13, 0, tzinfo=UTC)
        made = [factories.CountEventFactory(line=world_a.line,
                                            occurred_at=base + timedelta(minutes=m))
                for m in (4, 2, 3, 1, 0)]
    # when paged two at a time
    ids: list[int] = []
    url = f"/api/v1/events/?line={world_a.line.pk}&page_size=2"
    while url:
        body = owner_client.get(url).json()
        ids += [e["id"] for e in body["results"]]
        url = body["next"]
    # then all come once, oldest first
    by_time = [world_a.event] + sorted(made, key=lambda e: e.occurred_at)
    assert ids == [e.pk for e in by_time]


def test_audit_is_filterable_and_read_only(owner_client: Any, world_a: Any) -> None:
    # given the owner renamed a site through the API
    owner_client.patch(f"/api/v1/sites/{world_a.site.pk}/", {"name": "Renamed"}, format="json")
    # when the audit trail is filtered by action
    body = owner_client.get("/api/v1/audit/", {"action": "site.update"}).json()
    # then exactly that change is listed, with its actor and values
    assert [(e["action"], e["actor_name"], e["before"]["name"], e["after"]["name"])
            for e in body["results"]] == [
        ("site.update", world_a.owner.username, "tenant-a site", "Renamed")]
    # and the trail cannot be written through the API
    assert owner_client.post("/api/v1/audit/", {}, format="json").status_code == 405
    event_id = body["results"][0]["id"]
    assert owner_client.delete(f"/api/v1/audit/{event_id}/").status_code == 405


@pytest.mark.parametrize(("path", "body", "field", "message"), [
    ("/api/v1/sites/", {"name": 312}, "name", "Not a valid string."),
    ("/api/v1/sites/", {"name": "Mall", "timezone": ["UTC"]}, "timezone", "Not a valid string."),
    ("/api/v1/cameras/", {"site": "SITE_AS_TEXT", "name": "Door",
                          "stream_url": "rtsp://10.0.0.5/s"},
     "site", "A valid integer is required."),
    ("/api/v1/cameras/", {"site": "SITE", "name": True, "stream_url": "rtsp://10.0.0.5/s"},
     "name", "Not a valid string."),
    ("/api/v1/cameras/", {"site": "SITE", "name": "Door", "stream_url": "rtsp://10.0.0.5/s",
                          "detect_fps": "5"}, "detect_fps", "A valid number is required."),
    ("/api/v1/cameras/", {"site": "SITE", "name": "Door", "stream_url": "rtsp://10.0.0.5/s",
                          "enabled": "yes"}, "enabled", "Must be a valid boolean."),
    ("/api/v1/lines/", {"camera": "CAMERA", "name": "Gate", "x1": "0.1", "y1": 0.1, "x2": 0.9,
                        "y2": 0.9}, "x1", "A valid number is required."),
    ("/api/v1/zones/", {"camera": "CAMERA", "name": "Till", "capacity": 12.0,
                        "points": [[0.1, 0.1], [0.9, 0.1], [0.5, 0.9]]},
     "capacity", "A valid integer is required."),
    ("/api/v1/tokens/", {"name": "Grafana", "expires_in_days": "30"}, "expires_in_days",
     "A valid integer is required."),
])
def test_body_fields_take_only_their_json_type(owner_client: Any, world_a: Any, state_of: Any,
                                               path: str, body: dict[str, Any], field: str,
                                               message: str) -> None:
    # given a body whose field has another JSON type than the schema documents (DRF would
    # coerce 312 to "312", "5" to 5.0 and "yes" to True)
    ids = {"SITE": world_a.site.pk, "SITE_AS_TEXT": str(world_a.site.pk),
           "CAMERA": world_a.camera.pk}
    body = {k: ids.get(v, v) if isinstance(v, str) and k in ("site", "camera") else v
            for k, v in body.items()}
    before = state_of(world_a.tenant)
    # when posted, then a 400 names the field, and nothing changes
    error = _error(owner_client.post(path, body, format="json"))
    assert error["fields"][field] == [message]
    assert state_of(world_a.tenant) == before


def test_json_numbers_are_still_accepted_where_a_float_is_documented(
        owner_client: Any, world_a: Any) -> None:
    # given an integer for a float field (JSON has one number type)
    response = owner_client.post("/api/v1/lines/", {
        "camera": world_a.camera.pk, "name": "Gate", "x1": 0, "y1": 0, "x2": 1, "y2": 1},
        format="json")
    # then it is accepted
    assert response.status_code == 201, response.content
