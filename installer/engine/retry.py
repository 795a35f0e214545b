"""Retry policy for transient API failures: exponential backoff with full jitter and a cap.

The figures are real seconds; tests and the benchmark scale them with the simulator's
clock so the engine and Kubeflow's retry loop are compared on the same time base.
"""

from __future__ import annotations

import logging
import random
import threading
from dataclasses import dataclass

LOG = logging.getLogger("kfstack.engine")


@dataclass(frozen=True)
class Backoff:
    base: float = 0.5
    cap: float = 10.0
    attempts: int = 12

    def delay(self, attempt: int, rng: random.Random, retry_after: float | None = None) -> float:
        """Seconds to wait before retry number `attempt` (0-based).

        Half fixed, half jittered: the fixed half keeps progress predictable, the jitter
        spreads the engine's parallel workers so they do not retry in lockstep.
        """
        ceiling = min(self.cap, self.base * (2**attempt))
        wait = ceiling / 2 + rng.random() * ceiling / 2
        if retry_after is not None:
            wait = max(wait, min(retry_after, self.cap))
        return wait

    def scaled(self, factor: float) -> Backoff:
        return Backoff(self.base * factor, self.cap * factor, self.attempts)


def sleep(seconds: float, stop: threading.Event | None) -> None:
    """Sleep, waking early when `stop` is set."""
    if stop is not None:
        stop.wait(seconds)
    else:
        threading.Event().wait(seconds)
