"""The model registry (the seeds' ``ai_models`` and ``model_logs``): detector models platform
staff registered, which one a plan or a tenant counts with, and what the nodes did with them.

Registration, evaluation and activation are services in ``counting.model_registry`` (they run
the pipeline); a camera's own override is ``cameras.Camera.ai_model``; a camera resolves to a
detector in ``counting.model_choice``. Rows are never deleted: count events name the version
that produced them, so a model that should not run any more is retired.
"""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils import timezone

from tenants.models import Plan, Tenant


class ModelFormat(models.TextChoices):
    """Data formats only: nothing is ever unpickled."""

    ONNX = "onnx", "ONNX"
    SAFETENSORS = "safetensors", "safetensors (YOLOX-Nano weights)"


class ModelStatus(models.TextChoices):
    """A registered model's life: evaluated candidate, active (may be chosen), retired."""

    CANDIDATE = "candidate", "candidate"
    ACTIVE = "active", "active"
    RETIRED = "retired", "retired"


class AiModel(models.Model):
    """One registered detector model: a file in every node's model store (``file_path``,
    relative to ``COUNTING_MODEL_STORE``) with the SHA-256 checked whenever it is loaded, and
    its evaluation on the reference footage (``evaluation``: accuracy and speed, written at
    registration). Only an active model counts; activating one that counts worse than an active
    one needs ``forced`` with ``forced_reason``."""

    name = models.CharField(max_length=40, help_text="e.g. yolox-nano")
    version = models.CharField(max_length=20, help_text="e.g. 1.0")
    file_path = models.CharField(
        max_length=500, help_text="path of the file inside the nodes' model store "
                                  "(COUNTING_MODEL_STORE), e.g. yolox_nano.onnx")
    format = models.CharField(max_length=16, choices=ModelFormat.choices)
    sha256 = models.CharField(max_length=64, help_text="hex SHA-256 of the file")
    input_size = models.PositiveIntegerField(
        default=480, help_text="side of the square detector input, a multiple of 32")
    classes = models.JSONField(default=list, blank=True,
                               help_text="class names in output order; 'person' must be first")
    licence = models.CharField(max_length=200, help_text="e.g. Apache-2.0")
    status = models.CharField(max_length=16, choices=ModelStatus.choices,
                              default=ModelStatus.CANDIDATE)
    evaluation = models.JSONField(default=dict, blank=True, editable=False)
    forced = models.BooleanField(default=False, editable=False)
    forced_reason = models.TextField(blank=True, editable=False)
    created_by = models.CharField(max_length=150, blank=True, editable=False)
    changed_by = models.CharField(max_length=150, blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    changed_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ("name", "-created_at")
        constraints = [
            models.UniqueConstraint(fields=["name", "version"], name="ai_model_name_version"),
        ]

    def __str__(self) -> str:
        return self.label

    @property
    def label(self) -> str:
        """"yolox-nano 1.0": the name count events and logs carry."""
        return f"{self.name} {self.version}"


class ChoiceScope(models.TextChoices):
    """Where a model choice applies (a camera's own choice is on the camera)."""

    PLATFORM = "platform", "platform default"
    PLAN = "plan", "plan"
    TENANT = "tenant", "tenant"


class AiModelChoice(models.Model):
    """Which model counts: the platform default, a plan's default or a tenant's override
    (a camera's own override is on the camera). The most specific active one wins."""

    scope = models.CharField(max_length=16, choices=ChoiceScope.choices)
    plan = models.OneToOneField(Plan, null=True, blank=True, on_delete=models.CASCADE,
                                related_name="+")
    tenant = models.OneToOneField(Tenant, null=True, blank=True, on_delete=models.CASCADE,
                                  related_name="+")
    model = models.ForeignKey(AiModel, on_delete=models.PROTECT, related_name="choices")
    changed_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["scope"], condition=Q(scope="platform"),
                                    name="ai_model_choice_one_platform_default",
                                    violation_error_message="There is a platform default "
                                                            "already: change that one."),
            models.CheckConstraint(
                condition=(Q(scope="platform", plan__isnull=True, tenant__isnull=True)
                           | Q(scope="plan", plan__isnull=False, tenant__isnull=True)
                           | Q(scope="tenant", plan__isnull=True, tenant__isnull=False)),
                name="ai_model_choice_scope_matches",
                violation_error_message="A platform default names no plan and no tenant, a "
                                        "plan choice only a plan, a tenant choice only a "
                                        "tenant."),
        ]

    def __str__(self) -> str:
        target = self.plan or self.tenant or "platform"
        return f"{self.get_scope_display()} {target}: {self.model}"


class ModelEvent(models.TextChoices):
    """What a ModelLog row records."""

    LOAD = "load", "load"
    FAILURE = "failure", "failure"
    LATENCY = "latency", "latency"


class ModelLog(models.Model):
    """What a node did with a model: a load (``value``: seconds), a failure (``message``) or
    its detection latency (``value``: median ms over a minute, ``message``: frames and p95);
    sampled, never one row per frame."""

    node = models.CharField(max_length=200)
    model = models.ForeignKey(AiModel, null=True, blank=True, on_delete=models.PROTECT,
                              related_name="logs")
    model_label = models.CharField(max_length=64, blank=True,
                                   help_text="the model's version label (also for settings)")
    event = models.CharField(max_length=16, choices=ModelEvent.choices)
    value = models.FloatField(null=True, blank=True)
    message = models.TextField(blank=True)
    at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ("-at",)
        indexes = [models.Index(fields=["model", "event", "-at"], name="model_log_model_at")]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M:%S} {self.node} {self.model_label} {self.event}"
