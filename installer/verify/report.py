"""The verify report: one entry per check with its result, duration and evidence.

A check ends in one of three results: `passed`, `failed`, or `not-run` (with the reason
it could not run, e.g. "pipelines do not execute on the simulated cluster"). Nothing is
ever reported as passed that did not run. The report is written as JSON to
`<workdir>/verify/report.json` and is the `--output json` result of `kfstack verify`.
"""

from __future__ import annotations

import datetime as _dt
import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

from installer import redact

Result = Literal["passed", "failed", "not-run"]


@dataclass
class CheckResult:
    name: str
    result: Result = "not-run"
    seconds: float = 0.0
    evidence: dict[str, Any] = field(default_factory=dict)
    reason: str | None = None

    def passed(self, **evidence: Any) -> CheckResult:
        self.result = "passed"
        self.evidence.update(evidence)
        return self

    def failed(self, reason: str, **evidence: Any) -> CheckResult:
        self.result, self.reason = "failed", reason
        self.evidence.update(evidence)
        return self

    def not_run(self, reason: str) -> CheckResult:
        self.result, self.reason = "not-run", reason
        return self

    def line(self) -> str:
        text = f"{self.name}: {self.result} ({self.seconds:.1f}s)"
        return text + (f": {self.reason}" if self.reason else "")


@contextmanager
def timed(check: CheckResult) -> Iterator[CheckResult]:
    start = time.monotonic()
    try:
        yield check
    finally:
        check.seconds = round(time.monotonic() - start, 3)


@dataclass
class VerifyReport:
    platform: str
    target: str
    simulated: bool
    started: str = field(
        default_factory=lambda: _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds")
    )
    checks: list[CheckResult] = field(default_factory=list)

    @property
    def failed(self) -> list[CheckResult]:
        return [c for c in self.checks if c.result == "failed"]

    @property
    def not_run(self) -> list[CheckResult]:
        return [c for c in self.checks if c.result == "not-run"]

    def not_run_line(self) -> str:
        """One line naming the checks that could not run, grouped by reason (for the last
        line of a sandbox run), or "" when every check ran."""
        by_reason: dict[str, list[str]] = {}
        for check in self.not_run:
            by_reason.setdefault(check.reason or "no reason given", []).append(check.name)
        return "; ".join(f"{', '.join(names)} not run: {why}" for why, names in by_reason.items())

    def to_dict(self) -> dict[str, Any]:
        counts = {
            r: sum(c.result == r for c in self.checks) for r in ("passed", "failed", "not-run")
        }
        return {
            "platform": self.platform,
            "target": self.target,
            "simulated": self.simulated,
            "started": self.started,
            "summary": counts,
            "checks": [asdict(c) for c in self.checks],
        }

    def write(self, path: Path) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.tmp")
        # Evidence holds pod logs; a secret a step printed must not reach the workdir.
        text = redact.redact(json.dumps(self.to_dict(), indent=2, default=str))
        tmp.write_text(text + "\n", "utf-8")
        tmp.replace(path)
        return path
