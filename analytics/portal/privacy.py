"""The privacy settings page: blur people in every camera picture (Owners change it)."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db import connection
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from tenants.platform.privacy import tenant_privacy_can_change, tenant_privacy_set


class PrivacyForm(forms.Form):
    """The one privacy choice (an unticked box is "off", as browsers send nothing for it)."""

    privacy_blur = forms.BooleanField(
        required=False, label="Blur people in camera pictures",
        help_text="Every picture the portal and the API show, and the last picture kept per "
                  "camera for drawing lines, has the people in it pixelated.")


@login_required
def privacy_settings(request: HttpRequest) -> HttpResponse:
    """Show the setting to everyone; let an Owner change it."""
    tenant = connection.tenant  # type: ignore[attr-defined]
    can_change = tenant_privacy_can_change(user=request.user)
    if request.method == "POST":
        if not can_change:
            messages.error(request, "Only an Owner of your organisation can change the "
                                    "privacy setting.")
            return render(request, "analytics/privacy.html", {
                "form": PrivacyForm(initial={"privacy_blur": tenant.privacy_blur}),
                "can_change": False, "tenant": tenant}, status=403)
        form = PrivacyForm(request.POST)
        if form.is_valid():
            blur = form.cleaned_data["privacy_blur"]
            changed = blur != tenant.privacy_blur
            tenant_privacy_set(actor=request.user, tenant=tenant, blur=blur)
            if changed:
                messages.success(request, "People are now blurred in camera pictures." if blur
                                 else "People are no longer blurred in new camera pictures.")
            else:
                messages.info(request, "Nothing changed.")
            return redirect("privacy-settings")
    else:
        form = PrivacyForm(initial={"privacy_blur": tenant.privacy_blur})
    return render(request, "analytics/privacy.html", {
        "form": form, "can_change": can_change, "tenant": tenant})
