"""Renderers that let DRF negotiate ``?format=csv|xlsx|pdf`` (and ``Accept``) on export views.

The export views answer a finished file themselves; these renderers only make the formats
known to content negotiation. An error is always rendered as the API's JSON error (the views
switch the renderer), never as a broken file.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rest_framework.renderers import BaseRenderer

from analytics.reports.writers import CONTENT_TYPES


class _FileRenderer(BaseRenderer):
    charset = None

    def render(self, data: Any, accepted_media_type: str | None = None,
               renderer_context: Mapping[str, Any] | None = None) -> bytes:
        return data if isinstance(data, bytes) else b""


class CSVRenderer(_FileRenderer):
    """``text/csv``."""

    media_type = "text/csv"
    format = "csv"


class XLSXRenderer(_FileRenderer):
    """An Office Open XML workbook."""

    media_type = CONTENT_TYPES["xlsx"]
    format = "xlsx"


class PDFRenderer(_FileRenderer):
    """``application/pdf``."""

    media_type = "application/pdf"
    format = "pdf"


FILE_RENDERERS = [CSVRenderer, XLSXRenderer, PDFRenderer]
