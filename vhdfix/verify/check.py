"""One verification of a written copy, as the repair result reports it."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Check:
    """``passed`` is None when the check does not apply or could not decide (it then fails nothing)."""

    name: str
    passed: bool | None
    detail: str
    data: dict[str, object] = field(default_factory=dict)

    def to_json(self) -> dict[str, object]:
        return {"name": self.name, "passed": self.passed, "detail": self.detail, **self.data}
