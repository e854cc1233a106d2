"""Personal API tokens: shown once, stored hashed, expiring, revocable, throttled per token and
tenant, and created only with the password (guarded against guessing by django-axes)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.test import override_settings
from django.utils import timezone

from tests.conftest import PASSWORD


def test_a_token_is_shown_once_and_stored_hashed(world_a: Any, api_client: Any,
                                                 in_tenant: Any) -> None:
    from audit.models import AuditEvent
    from tenants.accounts.models import ApiToken
    from tenants.accounts.tokens import token_hash

    # given a Viewer with a session
    client = api_client("a", world_a.viewer)

    # when they create a token
    created = client.post("/api/v1/tokens/", {"name": "Grafana", "expires_in_days": 30,
                                              "password": PASSWORD}, format="json")

    # then the full token is in this answer only
    assert created.status_code == 201
    assert created["Cache-Control"] == "no-store"
    plaintext = created.json()["token"]
    assert plaintext.startswith(f"pc_{created.json()['prefix']}_")
    listed = client.get("/api/v1/tokens/").json()["results"]
    assert [t["name"] for t in listed] == ["Grafana"] and "token" not in listed[0]
    # and only its keyed hash is stored, with an expiry and an audit event
    with in_tenant(world_a.tenant):
        token = ApiToken.objects.get(name="Grafana")
        assert token.secret_hash == token_hash(plaintext) != plaintext
        assert plaintext not in str(list(ApiToken.objects.values()))
        assert timedelta(days=29, hours=23) < token.expires_at - timezone.now() <= timedelta(
            days=30)
        assert AuditEvent.objects.filter(action="token.create", target_id=str(token.pk),
                                         actor_id=world_a.viewer.pk).count() == 1

    # when the token is used
    me = api_client("a", token=plaintext).get("/api/v1/me/").json()
    # then it authenticates as its user
    assert (me["username"], me["auth"], me["token"]["name"]) == (
        world_a.viewer.username, "token", "Grafana")


def test_revoked_and_expired_tokens_are_refused(world_a: Any, api_client: Any,
                                                in_tenant: Any) -> None:
    from audit.models import AuditEvent
    from tenants.accounts.models import ApiToken

    # given the owner's token works
    token_client = api_client("a", token=world_a.owner_token_plaintext)
    assert token_client.get("/api/v1/me/").status_code == 200

    # when the owner revokes it
    revoked = api_client("a", world_a.owner).delete(f"/api/v1/tokens/{world_a.owner_token.pk}/")

    # then it no longer authenticates, and the revocation is audited
    assert revoked.status_code == 204
    refused = token_client.get("/api/v1/me/")
    assert refused.status_code == 401
    assert refused.json()["error"] == {"code": "authentication_failed",
                                       "message": "Invalid, expired or revoked token.",
                                       "fields": {}}
    with in_tenant(world_a.tenant):
        assert AuditEvent.objects.filter(action="token.revoke").count() == 1

    # given another token that has expired
    created = api_client("a", world_a.owner).post(
        "/api/v1/tokens/", {"name": "old", "password": PASSWORD}, format="json").json()
    with in_tenant(world_a.tenant):
        ApiToken.objects.filter(pk=created["id"]).update(
            expires_at=timezone.now() - timedelta(seconds=1))
    # then it is refused too
    assert api_client("a", token=created["token"]).get("/api/v1/me/").status_code == 401


def test_malformed_and_unknown_tokens_are_401(world_a: Any, api_client: Any) -> None:
    for header in ("Bearer", "Bearer a b", "Bearer pc_x_y", "Token nonsense"):
        client = api_client("a")
        client.credentials(HTTP_AUTHORIZATION=header)
        assert client.get("/api/v1/me/").status_code == 401, header


def test_creating_a_token_needs_the_password_and_locks_out_guessing(
        world_a: Any, api_client: Any, state_of: Any, in_tenant: Any) -> None:
    from audit.models import AuditEvent, FailedLoginTally

    # given a Manager's session
    client = api_client("a", world_a.manager)
    before = state_of(world_a.tenant)

    # when a wrong password is given five times
    answers = [client.post("/api/v1/tokens/", {"name": "x", "password": f"guess-{i}"},
                           format="json") for i in range(5)]

    # then the first four are refused as invalid and the fifth locks the account
    assert [a.status_code for a in answers] == [400, 400, 400, 400, 429]
    assert answers[0].json()["error"]["fields"] == {"password": ["The password is not correct."]}
    assert answers[4].json()["error"]["code"] == "locked_out"
    # and even the right password is refused while locked; nothing was created
    right = client.post("/api/v1/tokens/", {"name": "x", "password": PASSWORD}, format="json")
    assert right.status_code == 429
    after = state_of(world_a.tenant)
    assert {**after, "audit": 0} == {**before, "audit": 0}
    # and the only trace in the audit trail is the lockout itself; the six failures are
    # counted in the bounded tally (issue 17), not one audit event each
    with in_tenant(world_a.tenant):
        added = AuditEvent.objects.order_by("-id")[:after["audit"] - before["audit"]]
        assert [e.action for e in added] == ["auth.lockout"]
        assert FailedLoginTally.objects.get(username=world_a.manager.username).failures == 6


def test_the_login_page_locks_out_password_guessing(world_a: Any, client_for: Any) -> None:
    # given the portal's login page on tenant A
    client = client_for("a")
    # when five wrong passwords are tried
    codes = [client.post("/accounts/login/", {"username": world_a.viewer.username,
                                              "password": "nope"}).status_code
             for _ in range(5)]
    # then the fifth answer is the lockout, and the right password is refused after it
    assert codes == [200, 200, 200, 200, 429]
    assert client.post("/accounts/login/", {"username": world_a.viewer.username,
                                            "password": PASSWORD}).status_code == 429


@override_settings(REST_FRAMEWORK={
    **__import__("django.conf").conf.settings.REST_FRAMEWORK,
    "DEFAULT_THROTTLE_RATES": {"user": "3/min", "token": "2/min", "anon": "2/min"}})
def test_throttles_count_per_token_and_per_user_within_a_tenant(
        world_a: Any, tenant_b: Any, in_tenant: Any, owner_of: Any, api_client: Any,
        token_for: Any) -> None:
    from django.core.cache import cache

    # given tenant A's owner with a token, and tenant B's owner with the same primary key
    with in_tenant(tenant_b):
        owner_b = owner_of("b")
    assert owner_b.pk == world_a.owner.pk
    token_client = api_client("a", token=world_a.owner_token_plaintext)
    session_a = api_client("a", world_a.owner)
    session_b = api_client("b", owner_b)

    # when the token is used three times, and A's owner session four times
    token_codes = [token_client.get("/api/v1/me/").status_code for _ in range(3)]
    session_codes = [session_a.get("/api/v1/me/").status_code for _ in range(4)]

    # then the token is throttled after 2 and the session after 3, with the error shape
    assert token_codes == [200, 200, 429]
    assert session_codes == [200, 200, 200, 429]
    throttled = session_a.get("/api/v1/me/")
    assert throttled.json()["error"]["code"] == "throttled"
    assert int(throttled["Retry-After"]) > 0
    # and another token of the same user has its own budget
    other = api_client("a", token=token_for(world_a.tenant, world_a.owner))
    assert other.get("/api/v1/me/").status_code == 200
    # and user 1 of tenant B is not throttled by user 1 of tenant A
    assert session_b.get("/api/v1/me/").status_code == 200
    # and the cache keys name the tenant schema (twice: key function and our key)
    keys = sorted(k.decode() for k in cache._cache.get_client().keys("*throttle*"))
    assert keys and all(k.startswith(("tenant_a:", "tenant_b:")) for k in keys)
    assert any(k.startswith("tenant_a:") and "throttle:tenant_a:user:user:" in k for k in keys)
    assert any(k.startswith("tenant_b:") and "throttle:tenant_b:user:user:" in k for k in keys)
