"""Exporting a schema's audit trail before the schema is dropped (tenant deletion)."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path

from django.conf import settings

from audit.verify import EXPORT_FORMAT, chain_anchor_of, chain_head_of, schema_rows


def audit_export_path(*, schema: str) -> Path:
    """Where the export of ``schema`` goes: ``AUDIT_EXPORT_DIR/<schema>-<UTC time>.jsonl``."""
    stamp = datetime.now(tz=UTC).strftime("%Y%m%dT%H%M%S%fZ")
    return Path(settings.AUDIT_EXPORT_DIR) / f"{schema}-{stamp}.jsonl"


def audit_export_schema(*, schema: str, path: Path | None = None) -> Path:
    """Write the audit trail of ``schema`` with its chain to a JSON Lines file; return its path.

    Lines: a header (format, schema, time), one line per event in chain order (content and
    chain fields), and the chain head the events end at. The file is written to a temporary
    name, flushed to disk and renamed, so a file under the final name is always complete;
    ``verify_audit --file`` checks it. Raises if anything fails, so that a caller dropping the
    schema afterwards never drops a trail it could not save.
    """
    path = path or audit_export_path(schema=schema)
    path.parent.mkdir(parents=True, exist_ok=True)
    # The head first: events appended while exporting come after it and are left out, so the
    # file ends exactly at its head record (the drop then records the later head, if any).
    head = chain_head_of(schema) or (0, "0" * 64)
    partial = path.with_name(path.name + ".partial")
    with partial.open("w", encoding="utf-8") as out:
        header: dict[str, object] = {"kind": "header", "format": EXPORT_FORMAT,
                                     "schema": schema,
                                     "exported_at": datetime.now(tz=UTC).isoformat()}
        anchor = chain_anchor_of(schema)
        if anchor is not None:  # the chain starts after events removed by retention
            header["anchor"] = list(anchor)
        out.write(json.dumps(header) + "\n")
        for row in schema_rows(schema, up_to_seq=head[0]):
            # Full microseconds: the time is hashed (DjangoJSONEncoder would cut it to ms).
            row["occurred_at"] = row["occurred_at"].isoformat()
            out.write(json.dumps({"kind": "event", **row}, ensure_ascii=False) + "\n")
        out.write(json.dumps({"kind": "head", "seq": head[0], "hash": head[1]}) + "\n")
        out.flush()
        os.fsync(out.fileno())
    partial.replace(path)
    return path
