"""``manage.py provision_demo``: the public tenant, a platform admin and a demo tenant with a site
and a camera. Idempotent; passwords are generated and printed only when first created."""

from __future__ import annotations

import secrets
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandParser
from django_tenants.utils import tenant_context

from counting.demo import demo_objects_ensure
from tenants.models import Tenant
from tenants.platform.services import public_tenant_ensure, tenant_create

DEMO_SLUG = "demo"


def _password() -> str:
    return f"Demo-{secrets.token_urlsafe(12)}"


class Command(BaseCommand):
    help = "Create the public tenant, a platform admin and the demo tenant (idempotent)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--domain", default=f"demo.{settings.PUBLIC_DOMAIN}")
        parser.add_argument("--camera-url", default=settings.DEMO_CAMERA_URL)

    def handle(self, *args: Any, **options: Any) -> None:
        public_tenant_ensure(domain=settings.PUBLIC_DOMAIN)
        user_model = get_user_model()
        if not user_model.objects.filter(is_superuser=True).exists():
            password = _password()
            user_model.objects.create_superuser(username="admin", email="admin@localhost",
                                                password=password)
            self.stdout.write(self.style.WARNING(
                f"Platform admin created (shown once): http://{settings.PUBLIC_DOMAIN}:8000/admin/"
                f"  user admin  password {password}"))
        tenant = Tenant.objects.filter(slug=DEMO_SLUG).first()
        if tenant is None:
            owner_email = f"owner@{options['domain']}"
            password = _password()
            self.stdout.write("Creating the demo tenant (schema and migrations)...")
            tenant = tenant_create(name="Demo Retail", slug=DEMO_SLUG, domain=options["domain"],
                                   owner_email=owner_email, owner_password=password).tenant
            self.stdout.write(self.style.WARNING(
                f"Demo owner created (shown once): http://{options['domain']}:8000/  "
                f"user {owner_email}  password {password}"))
        else:
            self.stdout.write(
                f"Demo tenant exists at http://{options['domain']}:8000/ (its owner password was "
                "printed when it was created; reset it with: .venv/bin/python manage.py "
                f"tenant_command changepassword --schema={DEMO_SLUG} owner@{options['domain']})")
        with tenant_context(tenant):
            camera = demo_objects_ensure(camera_url=options["camera_url"])
            self.stdout.write(f"Demo camera '{camera.name}' reads {camera.stream_url}")
