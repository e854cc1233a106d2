"""Tenants, their domains and plans: the only models in the public schema."""

from __future__ import annotations

from django.db import models
from django_tenants.models import DomainMixin, TenantMixin


class Plan(models.Model):
    """A commercial plan: how many cameras a tenant may connect and how long counts are kept."""

    code = models.SlugField(unique=True)
    name = models.CharField(max_length=100)
    camera_quota = models.PositiveIntegerField(default=10)
    retention_days = models.PositiveIntegerField(default=400)

    def __str__(self) -> str:
        return self.name


class Tenant(TenantMixin):
    """A customer organisation with its own PostgreSQL schema (``schema_name`` equals ``slug``)."""

    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=48, unique=True)
    plan = models.ForeignKey(Plan, null=True, blank=True, on_delete=models.PROTECT,
                             related_name="tenants")
    camera_quota = models.PositiveIntegerField(default=10)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    auto_create_schema = True
    auto_drop_schema = True

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return f"{self.name} ({self.slug})"


class Domain(DomainMixin):
    """A host name that routes requests to a tenant (``acme.example.com``)."""

    def __str__(self) -> str:
        return self.domain
