"""The metric charter: what each metric means and what it may and may not be used for."""

from __future__ import annotations

from functools import lru_cache
from importlib import resources
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field

from shipwise.errors import NotFoundError

VIEWS = ("diagnostic", "performance")


class CharterEntry(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    id: str
    definition: str
    unit: str
    frequency: str
    normalisation: str
    exclusions: str
    may_inform: list[str]
    may_not_inform: list[str]
    audience: list[str]
    view: str = Field(pattern="^(diagnostic|performance)$")
    retention: str


class Charter(BaseModel):
    model_config = ConfigDict(frozen=True)
    version: int
    entries: dict[str, CharterEntry]

    def get(self, metric_id: str) -> CharterEntry:
        try:
            return self.entries[metric_id]
        except KeyError:
            raise NotFoundError(f"no charter entry for '{metric_id}'") from None


@lru_cache(maxsize=1)
def load_charter() -> Charter:
    raw: dict[str, Any] = yaml.safe_load(
        resources.files("shipwise.governance").joinpath("charter.yaml").read_text()
    )
    defaults = raw.get("defaults", {})
    entries = {
        mid: CharterEntry.model_validate({**defaults, **body, "id": mid})
        for mid, body in (raw.get("metrics") or {}).items()
    }
    return Charter(version=int(raw["version"]), entries=entries)
