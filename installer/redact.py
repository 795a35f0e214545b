"""Keep secret values out of every output channel.

Whenever kfstack reads or generates a secret value it registers it here; the log file
handler, the console reporter and the JSON result writer pass their text through
`redact()`. This is deliberately process-wide (like a CI system's "add-mask"): a value
registered anywhere must be masked everywhere, including in output of code paths that
never saw the secret object itself.
"""

from __future__ import annotations

import threading

MASK = "***"
_MIN_LENGTH = 4  # shorter values would mask ordinary words; generated secrets are far longer

_lock = threading.Lock()
_values: set[str] = set()


def register(value: str | bytes | None) -> None:
    """Mask `value` in all later output. Empty or very short values are ignored."""
    if value is None:
        return
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    value = value.strip()
    if len(value) >= _MIN_LENGTH:
        with _lock:
            _values.add(value)


def redact(text: str) -> str:
    """Return `text` with every registered secret value replaced by `***`."""
    if not _values or not text:
        return text
    with _lock:
        values = sorted(_values, key=len, reverse=True)
    for value in values:
        if value in text:
            text = text.replace(value, MASK)
    return text


def registered_count() -> int:
    return len(_values)


def clear() -> None:
    """Forget every value (tests use this between cases)."""
    with _lock:
        _values.clear()
