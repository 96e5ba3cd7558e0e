"""Each flag's evidence in words. (Being written with the rules.)"""

from __future__ import annotations

from typing import Any


def describe(rule: str, evidence: dict[str, Any]) -> str:
    return ", ".join(f"{key} {value}" for key, value in evidence.items())
