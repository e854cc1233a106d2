"""Password guessing: limits per (username, address), per username and per address; a 429 that
explains; X-Forwarded-For only behind trusted proxies; failed logins counted in a bounded tally."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command
from django.test import RequestFactory

from audit.client_ip import client_ip
from audit.models import AuditEvent, FailedLoginTally
from audit.tally import failed_login_count
from tenants.accounts.users import user_create
from tests.conftest import PASSWORD


def _login(client: Any, username: str, password: str, ip: str = "127.0.0.1",
           forwarded: str | None = None) -> Any:
    extra = {"REMOTE_ADDR": ip}
    if forwarded is not None:
        extra["HTTP_X_FORWARDED_FOR"] = forwarded
    return client.post("/accounts/login/", {"username": username, "password": password}, **extra)


@pytest.fixture
def victim(tenant_a: Any, in_tenant: Any, owner_of: Any) -> Any:
    with in_tenant(tenant_a):
        return user_create(actor=owner_of("a"), email="victim@a.test", password=PASSWORD)


def test_guessing_one_password_from_many_addresses_is_limited(
        victim: Any, client_for: Any, settings: Any) -> None:
    settings.AUTH_LOCKOUT_USERNAME_LIMIT = 8
    client = client_for("a")
    # given 4 wrong passwords from each of two addresses (under the per-pair limit of 5)
    codes = [_login(client, victim.username, f"guess{i}", ip=f"198.51.100.{i % 2 + 1}")
             .status_code for i in range(8)]
    # then the eighth failure for this username locks it, whatever the address
    assert codes == [200] * 7 + [429]
    locked = _login(client, victim.username, PASSWORD, ip="203.0.113.50")
    assert locked.status_code == 429
    assert "for this account, from several addresses" in locked.content.decode()


def test_one_address_trying_many_accounts_is_limited(
        victim: Any, tenant_a: Any, in_tenant: Any, owner_of: Any, client_for: Any,
        settings: Any) -> None:
    settings.AUTH_LOCKOUT_IP_LIMIT = 6
    client = client_for("a")
    # given one failure each for six usernames from one address
    codes = [_login(client, f"user{i}@a.test", "guess", ip="198.51.100.9").status_code
             for i in range(6)]
    assert codes == [200] * 5 + [429]
    # then even a right password is refused from that address, with the reason and the wait
    locked = _login(client, victim.username, PASSWORD, ip="198.51.100.9")
    assert locked.status_code == 429
    assert locked["Retry-After"] == "900"
    text = locked.content.decode()
    assert "Too many failed logins came from your address, for several accounts" in text
    assert "sign-in is paused for 15 minutes" in text
    # and the same user from another address logs in
    assert _login(client, victim.username, PASSWORD, ip="198.51.100.10").status_code == 302


def test_logging_in_to_ones_own_account_does_not_reset_the_address_count(
        victim: Any, client_for: Any, settings: Any) -> None:
    settings.AUTH_LOCKOUT_IP_LIMIT = 6
    client = client_for("a")
    for i in range(5):
        assert _login(client, f"target{i}@a.test", "guess", ip="198.51.100.20").status_code == 200
    # the attacker's own account logs in successfully from the same address ...
    assert _login(client, victim.username, PASSWORD, ip="198.51.100.20").status_code == 302
    client.post("/accounts/logout/")
    # ... and the next guess from it still reaches the per-address limit
    assert _login(client, "target9@a.test", "guess", ip="198.51.100.20").status_code == 429


def test_a_lockout_is_one_audit_event_and_failures_go_to_the_tally(
        victim: Any, tenant_a: Any, in_tenant: Any, client_for: Any) -> None:
    client = client_for("a")
    with in_tenant(tenant_a):
        mark = AuditEvent.objects.order_by("-pk").first().pk
    codes = [_login(client, victim.username, "wrong", ip="198.51.100.30").status_code
             for _ in range(8)]
    assert codes == [200] * 4 + [429] * 4
    with in_tenant(tenant_a):
        events = list(AuditEvent.objects.filter(pk__gt=mark).values_list("action", "ip",
                                                                         "after"))
        assert events == [("auth.lockout", "198.51.100.30",
                           {"username": victim.username, "rule": "username_ip", "limit": 5,
                            "window_minutes": 15})]
        tally = list(FailedLoginTally.objects.values_list("username", "ip", "failures"))
        assert tally == [(victim.username, "198.51.100.30", 8)]


def test_the_api_explains_a_lockout_in_its_error_shape(
        victim: Any, tenant_a: Any, in_tenant: Any, logged_in: Any) -> None:
    client = logged_in("a", victim)
    answers = [client.post("/api/v1/tokens/", {"name": "x", "password": f"guess{i}"},
                           content_type="application/json") for i in range(5)]
    assert [a.status_code for a in answers] == [400] * 4 + [429]
    error = answers[4].json()["error"]
    assert error["code"] == "locked_out"
    assert error["message"] == ("Too many wrong passwords were given for this account from "
                                "your address. Try again in 15 minutes. If you forgot your "
                                "password, reset it from the sign-in page.")


@pytest.mark.parametrize(("trusted", "remote", "forwarded", "expected"), [
    # no trusted proxy configured: the header is ignored
    ([], "192.0.2.1", "203.0.113.7", "192.0.2.1"),
    # a request from outside the trusted proxies cannot choose its address
    (["10.9.0.0/16"], "192.0.2.1", "203.0.113.7", "192.0.2.1"),
    # behind two trusted proxies: the first untrusted address from the right is the client
    (["10.9.0.0/16"], "10.9.0.5", "203.0.113.7, 10.9.0.3", "203.0.113.7"),
    # a client's own forged entries left of its real address are ignored
    (["10.9.0.0/16"], "10.9.0.5", "1.1.1.1, 203.0.113.8", "203.0.113.8"),
    # ports and IPv6 brackets are stripped; IPv4-mapped IPv6 is IPv4
    (["10.9.0.5"], "10.9.0.5", "[2001:db8::7]:443", "2001:db8::7"),
    (["10.9.0.5"], "::ffff:10.9.0.5", "203.0.113.9:51000", "203.0.113.9"),
    # garbage in the header: the trusted proxy's own address
    (["10.9.0.0/16"], "10.9.0.5", "not-an-ip", "10.9.0.5"),
])
def test_client_ip_reads_x_forwarded_for_only_behind_trusted_proxies(
        settings: Any, trusted: list[str], remote: str, forwarded: str, expected: str) -> None:
    settings.TRUSTED_PROXIES = trusted
    request = RequestFactory().get("/", REMOTE_ADDR=remote, HTTP_X_FORWARDED_FOR=forwarded)
    assert client_ip(request) == expected


def test_behind_a_trusted_proxy_one_client_cannot_lock_out_another(
        victim: Any, tenant_a: Any, in_tenant: Any, client_for: Any, settings: Any) -> None:
    settings.TRUSTED_PROXIES = ["10.9.0.0/16"]
    client = client_for("a")
    # given an attacker behind the same proxy locking the pair (victim, attacker's address)
    for _ in range(5):
        _login(client, victim.username, "wrong", ip="10.9.0.5", forwarded="203.0.113.66")
    assert _login(client, victim.username, PASSWORD, ip="10.9.0.5",
                  forwarded="203.0.113.66").status_code == 429
    # then the victim, behind the same proxy, still logs in, and the audit shows their address
    with in_tenant(tenant_a):
        mark = AuditEvent.objects.order_by("-pk").first().pk
    assert _login(client, victim.username, PASSWORD, ip="10.9.0.5",
                  forwarded="198.51.100.77").status_code == 302
    with in_tenant(tenant_a):
        login = AuditEvent.objects.get(pk__gt=mark, action="auth.login")
        assert login.ip == "198.51.100.77"


def test_the_tally_is_bounded_per_hour_and_pruned(tenant_a: Any, in_tenant: Any,
                                                 settings: Any) -> None:
    settings.AUDIT_FAILED_LOGIN_KEYS_PER_HOUR = 3
    settings.AUDIT_FAILED_LOGIN_RETENTION_DAYS = 30
    hour = datetime(2026, 3, 1, 10, tzinfo=UTC)
    with in_tenant(tenant_a):
        FailedLoginTally.objects.create(hour=hour - timedelta(days=40), username="old", ip="",
                                        failures=1, first_at=hour, last_at=hour)
        # given failures for six usernames within one hour, one of them twice
        for i in range(6):
            failed_login_count(username=f"spray{i}", ip="198.51.100.1",
                               at=hour + timedelta(minutes=i))
        failed_login_count(username="spray0", ip="198.51.100.1", at=hour + timedelta(minutes=9))
        # then three keys are kept, the rest is counted in the overflow row, old rows are gone
        rows = list(FailedLoginTally.objects.order_by("username").values_list(
            "username", "failures"))
        assert rows == [("*", 3), ("spray0", 2), ("spray1", 1), ("spray2", 1)]


def test_failed_logins_command_summarises_the_tally(victim: Any, tenant_a: Any,
                                                    client_for: Any) -> None:
    client = client_for("a")
    for i in range(3):
        _login(client, victim.username, "wrong", ip=f"198.51.100.{40 + i}")
    _login(client, "ghost@a.test", "wrong", ip="198.51.100.40")
    out = StringIO()
    call_command("failed_logins", "--tenant", "tenant_a", stdout=out)
    text = out.getvalue()
    assert "tenant_a: 4 failed logins since" in text
    assert "2 usernames, 3 addresses, 0 lockouts" in text
    assert f"  user {victim.username}: 3 from 3 address(es)" in text
    assert "  address 198.51.100.40: 2 for 2 username(s)" in text


def test_the_platform_admin_sign_in_is_guarded_and_explained_too(db: Any) -> None:
    from django.contrib.auth import get_user_model
    from django.test import Client

    get_user_model().objects.create_superuser(username="plat-lock", password=PASSWORD,
                                              email="plat-lock@localhost")
    client = Client(HTTP_HOST="localhost")
    codes = [client.post("/admin/login/", {"username": "plat-lock", "password": "wrong"})
             .status_code for _ in range(5)]
    assert codes == [200] * 4 + [429]
    page = client.post("/admin/login/", {"username": "plat-lock", "password": PASSWORD})
    assert page.status_code == 429
    text = page.content.decode()
    assert "Sign-in paused" in text and "ask another administrator to set a new one" in text
    assert FailedLoginTally.objects.get(username="plat-lock").failures == 6  # public schema
