"""Query-string credentials of stream URLs (``?user=..&pwd=..``) move into an encrypted field.

Each camera's ``stream_url`` keeps its parameters with the value ``***``; the values are stored
encrypted in ``url_secrets_encrypted`` (cameras.url_secrets). A status reason that quoted a
secret is cleared (the runner writes a fresh one). Audit rows written before this migration are
append-only and hash-chained: they are not rewritten (see docs/security.md).
"""

from __future__ import annotations

import json
from typing import Any

from django.db import migrations, models


def forwards(apps: Any, schema_editor: Any) -> None:
    from cameras.crypto import encrypt_secret
    from cameras.url_secrets import split_url_secrets

    Camera = apps.get_model("cameras", "Camera")  # noqa: N806 (the historical model)
    for camera in Camera.objects.all().only("pk", "stream_url", "status_reason"):
        redacted, secrets = split_url_secrets(camera.stream_url, stored=[])
        if not secrets:
            continue
        reason = camera.status_reason
        if any(value in reason for _, value in secrets):
            reason = ""
        Camera.objects.filter(pk=camera.pk).update(
            stream_url=redacted, status_reason=reason,
            url_secrets_encrypted=encrypt_secret(json.dumps([list(s) for s in secrets])))


def backwards(apps: Any, schema_editor: Any) -> None:
    from cameras.crypto import decrypt_secret
    from cameras.url_secrets import join_url_secrets

    Camera = apps.get_model("cameras", "Camera")  # noqa: N806 (the historical model)
    for camera in Camera.objects.exclude(url_secrets_encrypted=""):
        secrets = [(n, v) for n, v in json.loads(decrypt_secret(camera.url_secrets_encrypted))]
        Camera.objects.filter(pk=camera.pk).update(
            stream_url=join_url_secrets(camera.stream_url, secrets))


class Migration(migrations.Migration):

    dependencies = [("cameras", "0002_detect_fps_help")]

    operations = [
        migrations.AddField(
            model_name="camera",
            name="url_secrets_encrypted",
            field=models.TextField(blank=True, editable=False),
        ),
        migrations.RunPython(forwards, backwards),
    ]
