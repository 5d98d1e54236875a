"""Retention rules in force: the defaults of SPEC §6, overridden by the TOML file's
``[retention]`` table (``<class> = <days>``) and by ``MAILVAULT_RETENTION_<CLASS>_DAYS``."""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from vault.config import Settings
from vault.errors import ConfigError
from vault.retention.classes import RECORD_CLASSES, RecordClass

DEFAULT_INTERVAL_HOURS = 24.0
DEFAULT_BATCH = 1000
_OPTIONS = {"purge_interval_hours", "batch_size"}


@dataclass(frozen=True)
class Rule:
    record_class: RecordClass
    days: int

    def cutoff(self, as_of: datetime) -> datetime:
        return as_of - timedelta(days=self.days)

    def describe(self) -> str:
        return f"{self.record_class.description}: kept {self.days} days"


@dataclass(frozen=True)
class RetentionConfig:
    rules: list[Rule]
    purge_interval_hours: float = DEFAULT_INTERVAL_HOURS
    batch_size: int = DEFAULT_BATCH

    def as_dict(self) -> dict[str, int]:
        return {rule.record_class.name: rule.days for rule in self.rules}


def retention_config(
    settings: Settings, *, environ: dict[str, str] | None = None
) -> RetentionConfig:
    env = os.environ if environ is None else environ
    section: dict[str, Any] = dict(settings.sections.get("retention", {}))
    known = {c.name for c in RECORD_CLASSES}
    unknown = set(section) - known - _OPTIONS
    if unknown:
        raise ConfigError(
            f"unknown [retention] setting(s): {', '.join(sorted(unknown))}; "
            f"record classes are {', '.join(sorted(known))}"
        )
    rules = []
    for record_class in RECORD_CLASSES:
        value: Any = section.get(record_class.name, record_class.default_days)
        variable = f"MAILVAULT_RETENTION_{record_class.name.upper()}_DAYS"
        if env.get(variable):
            value = env[variable]
        try:
            days = int(value)
        except (TypeError, ValueError):
            raise ConfigError(f"retention for {record_class.name} must be whole days") from None
        if days < 0:
            raise ConfigError(f"retention for {record_class.name} cannot be negative")
        rules.append(Rule(record_class, days))
    interval = float(section.get("purge_interval_hours", DEFAULT_INTERVAL_HOURS))
    batch = int(section.get("batch_size", DEFAULT_BATCH))
    if interval <= 0 or batch <= 0:
        raise ConfigError("purge_interval_hours and batch_size must be positive")
    return RetentionConfig(rules=rules, purge_interval_hours=interval, batch_size=batch)
