"""The charter as JSON with its validation result, for :func:`shipwise.app.views.charter_view`.

Retention runs and their history are the doors of :mod:`shipwise.app.admin` (``retention_apply``,
``retention_runs``), which authorise and log them; :mod:`shipwise.app.catalog` has the charter
as a result model. This module goes when ``app/views.py`` does."""

from __future__ import annotations

from typing import Any

from shipwise.governance.charter import load_charter, validate


def charter_report() -> dict[str, Any]:
    """The charter as JSON with its validation result."""
    charter = load_charter()
    return {"version": charter.version, "changes": charter.changes,
            "forbidden_uses": charter.forbidden_uses,
            "retention": {k: v.model_dump() for k, v in charter.retention.items()},
            "metrics": {k: v.model_dump() for k, v in charter.entries.items()},
            "problems": validate(charter)}
