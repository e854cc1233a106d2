"""The hash chain of an audit trail: canonical content hashes, links, and checking a chain.

Each schema has its own chain. An event stores the SHA-256 of its canonical content
(``content_hash``, computed here when it is saved) and the database links it to the head of
its schema's chain (``audit_admin.chain_link()`` in audit/sql/setup.sql)::

    seq      1            2            3
    prev     000...0  +-> h1       +-> h2
    content  c1       |   c2       |   c3
    hash     h1 ------+   h2 ------+   h3       h_n = sha256(prev ":" seq ":" c_n)

Retention removes a chain's oldest events as a prefix only and records the last removed
event's (seq, hash) as the chain's anchor; the check then starts there instead of at the genesis.

An edited row no longer matches its content hash, a removed row leaves a gap in ``seq`` and a
``prev_hash`` that points at nothing, and reordered rows break both ``seq`` and the links.
``chain_verify`` checks rows read from the database and rows read from an export alike.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

GENESIS = "0" * 64
# The fields an event's content hash covers, in a fixed order (the chain fields are not content).
CONTENT_FIELDS = ("occurred_at", "actor_id", "actor_name", "ip", "request_id", "action",
                  "target_type", "target_id", "target_repr", "before", "after")


def _canonical_json_value(value: Any) -> Any:
    # jsonb keeps numbers as numerics: 1e20 written as a float reads back as an int. Every
    # number is hashed as the repr of its float so the write and the read-back agree.
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, int | float):
        return repr(float(value))
    if isinstance(value, Mapping):
        return {str(key): _canonical_json_value(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_canonical_json_value(item) for item in value]
    raise TypeError(f"audit values must be JSON values, not {type(value).__name__}")


def _canonical_time(value: dt.datetime | str) -> str:
    if isinstance(value, str):  # from an export file
        value = dt.datetime.fromisoformat(value)
    if value.tzinfo is None:
        raise ValueError("audit times must be aware")
    return value.astimezone(dt.UTC).isoformat()


def content_hash(fields: Mapping[str, Any]) -> str:
    """SHA-256 (hex) of an event's content fields in canonical JSON."""
    canonical = {
        "occurred_at": _canonical_time(fields["occurred_at"]),
        "actor_id": fields["actor_id"],
        "actor_name": fields["actor_name"],
        "ip": fields["ip"] or None,
        "request_id": fields["request_id"],
        "action": fields["action"],
        "target_type": fields["target_type"],
        "target_id": fields["target_id"],
        "target_repr": fields["target_repr"],
        "before": _canonical_json_value(fields["before"]),
        "after": _canonical_json_value(fields["after"]),
    }
    text = json.dumps(canonical, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      allow_nan=False)
    return hashlib.sha256(text.encode()).hexdigest()


def link_hash(prev_hash: str, seq: int, content: str) -> str:
    """The hash of an event: its content hash linked to the previous event's hash."""
    return hashlib.sha256(f"{prev_hash}:{seq}:{content}".encode()).hexdigest()


def _row_problem(row: Mapping[str, Any], *, expected_seq: int, expected_prev: str) -> str:
    if row["seq"] != expected_seq:
        return (f"expected seq {expected_seq}: an event before it was removed, or events were "
                "reordered")
    if row["prev_hash"] != expected_prev:
        return ("its prev_hash is not the hash of the event before it: events were removed or "
                "reordered")
    if content_hash(row) != row["content_hash"]:
        return "its content does not match its content hash: the event was edited"
    if link_hash(row["prev_hash"], row["seq"], row["content_hash"]) != row["hash"]:
        return "its hash does not match its link: the chain fields were edited"
    return ""


@dataclass(frozen=True)
class ChainReport:
    """What checking one chain found: the events seen, the last link, and the first problem."""

    events: int
    last_seq: int
    last_hash: str
    problem: str = ""
    bad_id: int | None = None

    @property
    def ok(self) -> bool:
        return not self.problem


def chain_verify(rows: Iterable[Mapping[str, Any]], *, head: tuple[int, str] | None = None,
                 start: tuple[int, str] | None = None) -> ChainReport:
    """Check rows (dicts with ``id``, ``seq``, ``prev_hash``, ``hash``, ``content_hash`` and the
    content fields) in ``seq`` order; stop at the first bad row and name it.

    ``head`` is the (seq, hash) the chain must end at: the database's chain head, or the head
    recorded when the schema was dropped. Without it, removing the newest rows goes unseen.
    ``start`` is the (seq, hash) of the last event removed by retention (the chain's anchor,
    audit/retention.py): the rows must continue from it instead of from the genesis.
    """
    expected_seq, expected_prev = (start[0] + 1, start[1]) if start else (1, GENESIS)
    count = 0
    for row in rows:
        count += 1
        problem = _row_problem(row, expected_seq=expected_seq, expected_prev=expected_prev)
        if problem:
            return ChainReport(events=count, last_seq=expected_seq - 1, last_hash=expected_prev,
                               problem=f"event id {row['id']} (seq {row['seq']}): {problem}",
                               bad_id=int(row["id"]))
        expected_seq, expected_prev = expected_seq + 1, row["hash"]
    last_seq = expected_seq - 1
    if head is not None and (last_seq, expected_prev) != (head[0], head[1]):
        return ChainReport(
            events=count, last_seq=last_seq, last_hash=expected_prev,
            problem=f"the chain ends at seq {last_seq} but its head is seq {head[0]} "
                    f"({head[1][:12]}): the newest events were removed or the head was moved")
    return ChainReport(events=count, last_seq=last_seq, last_hash=expected_prev)
