"""Evidence: what a check observed, recorded on the test report even when it passes.

Values go through pytest's record_property, so they reach JUnit XML (as properties),
xdist's controller (report.user_properties) and the sign-off report alike.
"""
from __future__ import annotations

import json
from typing import Any, Callable


class Evidence:
    """record(key, value): one observed value; JSON-encoded unless it is a plain scalar."""

    def __init__(self, record_property: Callable[[str, Any], None]) -> None:
        self._record = record_property

    def record(self, key: str, value: Any) -> Any:
        self._record(key, value if isinstance(value, (str, int, float, bool)) or value is None
                     else json.dumps(value, sort_keys=True, default=str))
        return value

    def __call__(self, key: str, value: Any) -> Any:
        return self.record(key, value)
