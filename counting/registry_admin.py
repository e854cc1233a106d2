"""The model registry in the platform admin: register (checked and evaluated on the reference
footage), activate (forced with a reason when it counts worse), retire, choose per plan,
tenant or platform, and read the nodes' model logs. Every write goes through
``counting.model_registry`` (validation and audit); registry rows are never deleted."""

from __future__ import annotations

import json
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest
from django.utils.html import format_html

from audit.admin import AuditedModelAdmin
from counting.model_registry import (
    ai_model_activate,
    ai_model_activation_check,
    ai_model_check_file,
    ai_model_choice_set,
    ai_model_register,
    ai_model_retire,
    ai_model_validate_new,
)
from tenants.admin_sites import ReadOnlyModelAdmin, platform_admin_site
from tenants.platform.models import AiModel, AiModelChoice, ModelLog, ModelStatus


def _classes(text: str) -> list[str]:
    return [c.strip() for c in text.replace("\n", ",").split(",") if c.strip()]


class AiModelRegisterForm(forms.ModelForm):
    """The add form: the file is checked here (store, format, checksum, outputs); saving
    evaluates it on the reference footage (about a minute on a small CPU)."""

    classes_text = forms.CharField(
        label="classes", widget=forms.Textarea(attrs={"rows": 3}),
        help_text="class names in output order, separated by commas or lines; 'person' first")
    sha256 = forms.CharField(required=False, max_length=64,
                             help_text="optional: the expected SHA-256 (refused if different)")

    class Meta:
        model = AiModel
        fields = ["name", "version", "file_path", "format", "input_size", "licence", "sha256"]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if self.errors:
            return data
        classes = _classes(data.get("classes_text", ""))
        data["classes"] = classes
        try:
            ai_model_validate_new(name=data["name"], version=data["version"],
                                  input_size=data["input_size"], classes=classes,
                                  licence=data["licence"])
            ai_model_check_file(file_path=data["file_path"], format=data["format"],
                                classes=classes, sha256=data.get("sha256", ""))
        except ValidationError as exc:
            self._add_errors(exc)
        return data

    def _add_errors(self, exc: ValidationError) -> None:
        if not hasattr(exc, "error_dict"):
            self.add_error(None, exc)
            return
        for field, errors in exc.message_dict.items():
            self.add_error(field if field in self.fields else None, errors)

    def validate_unique(self) -> None:  # the service says it in its own words
        pass


class AiModelChangeForm(forms.ModelForm):
    """The change form: only the status changes, through activate and retire."""

    force = forms.BooleanField(required=False,
                               help_text="activate although it counts worse than an active "
                                         "model (give the reason)")
    reason = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))

    class Meta:
        model = AiModel
        fields = ["status"]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        stored = AiModel.objects.get(pk=self.instance.pk)
        if data.get("status") == ModelStatus.ACTIVE and stored.status != ModelStatus.ACTIVE:
            try:
                ai_model_activation_check(model=stored, force=bool(data.get("force")),
                                          reason=data.get("reason", ""))
            except ValidationError as exc:
                self.add_error(None, exc)
        elif data.get("status") == ModelStatus.CANDIDATE and stored.status != data["status"]:
            self.add_error("status", "A model cannot go back to candidate: retire it.")
        return data


@admin.register(AiModel, site=platform_admin_site)
class AiModelAdmin(AuditedModelAdmin):
    """Registered detector models (see the module docstring)."""

    audited_by_services = frozenset({"create", "update"})
    list_display = ("name", "version", "status", "format", "input_size", "count_error",
                    "latency_ms", "forced", "created_by", "created_at")
    list_filter = ("status", "format")
    search_fields = ("name", "version", "sha256")

    def get_form(self, request: HttpRequest, obj: Any = None, change: bool = False,
                 **kwargs: Any) -> Any:
        kwargs["form"] = AiModelChangeForm if obj is not None else AiModelRegisterForm
        return super().get_form(request, obj, change=change, **kwargs)

    def get_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        if obj is None:
            return ["name", "version", "file_path", "format", "input_size", "classes_text",
                    "licence", "sha256"]
        return ["name", "version", "status", "force", "reason", "file_path", "format",
                "sha256", "input_size", "classes", "licence", "evaluation_table", "forced",
                "forced_reason", "created_by", "created_at", "changed_by", "changed_at"]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        if obj is None:
            return ()
        return ["name", "version", "file_path", "format", "sha256", "input_size", "classes",
                "licence", "evaluation_table", "forced", "forced_reason", "created_by",
                "created_at", "changed_by", "changed_at"]

    @admin.display(description="count error")
    def count_error(self, obj: AiModel) -> str:
        value = (obj.evaluation or {}).get("count_error")
        return "-" if value is None else f"{value:.2%}"

    @admin.display(description="latency (median ms)")
    def latency_ms(self, obj: AiModel) -> str:
        value = (obj.evaluation or {}).get("latency", {}).get("median_ms")
        return "-" if value is None else f"{value:.1f}"

    @admin.display(description="evaluation")
    def evaluation_table(self, obj: AiModel) -> str:
        return format_html("<pre>{}</pre>", json.dumps(obj.evaluation, indent=2))

    def save_model(self, request: HttpRequest, obj: AiModel, form: Any, change: bool) -> None:
        data = form.cleaned_data
        try:
            if not change:
                made = ai_model_register(
                    name=data["name"], version=data["version"], file_path=data["file_path"],
                    format=data["format"], input_size=data["input_size"],
                    classes=data["classes"], licence=data["licence"],
                    sha256=data.get("sha256", ""), actor=request.user)
                obj.pk = made.pk
                return
            stored = AiModel.objects.get(pk=obj.pk)
            if obj.status == ModelStatus.ACTIVE:
                ai_model_activate(model=stored, actor=request.user,
                                  force=bool(data.get("force")), reason=data.get("reason", ""))
            elif obj.status == ModelStatus.RETIRED:
                ai_model_retire(model=stored, actor=request.user)
        except ValidationError as exc:
            messages.error(request, f"Not saved: {'; '.join(exc.messages)}")

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # count events name the version: retire instead


class AiModelChoiceForm(forms.ModelForm):
    """A platform default, plan default or tenant override; only active models."""

    class Meta:
        model = AiModelChoice
        fields = ["scope", "plan", "tenant", "model"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["model"]
        assert isinstance(field, forms.ModelChoiceField)
        field.queryset = AiModel.objects.filter(status=ModelStatus.ACTIVE)


@admin.register(AiModelChoice, site=platform_admin_site)
class AiModelChoiceAdmin(AuditedModelAdmin):
    """Which model a plan, a tenant or the whole platform counts with (a camera's own choice
    is on the camera); running streams switch within seconds, without a restart."""

    form = AiModelChoiceForm
    audited_by_services = frozenset({"create", "update"})
    list_display = ("scope", "plan", "tenant", "model", "changed_at")
    list_filter = ("scope",)

    def save_model(self, request: HttpRequest, obj: AiModelChoice, form: Any,
                   change: bool) -> None:
        try:
            saved = ai_model_choice_set(model=obj.model, plan=obj.plan, tenant=obj.tenant,
                                        actor=request.user)
        except ValidationError as exc:
            messages.error(request, f"Not saved: {'; '.join(exc.messages)}")
            return
        if change and obj.pk != saved.pk:  # the row moved to another scope: the old one goes
            AiModelChoice.objects.filter(pk=obj.pk).delete()
        obj.pk = saved.pk


@admin.register(ModelLog, site=platform_admin_site)
class ModelLogAdmin(ReadOnlyModelAdmin):
    """What each node did with its models: loads (seconds), failures, latency per minute."""

    list_display = ("at", "node", "model_label", "event", "value", "message")
    list_filter = ("event", "node", "model")
    search_fields = ("node", "model_label", "message")
    date_hierarchy = "at"
