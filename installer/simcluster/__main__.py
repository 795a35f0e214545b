"""`python -m installer.simcluster --port 0 --kubeconfig OUT`: run the simulator until
interrupted (the sandbox uses it). The bound port is printed on stdout."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from pathlib import Path

from installer.simcluster import Faults, SimCluster


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m installer.simcluster")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--kubeconfig", type=Path, required=True)
    parser.add_argument("--clock-scale", type=float, default=None)
    parser.add_argument("--state", type=Path, default=None, help="persist state here")
    parser.add_argument("--error-rate", type=float, default=0.0)
    parser.add_argument("--throttle-rate", type=float, default=0.0)
    parser.add_argument("--drop-rate", type=float, default=0.0)
    parser.add_argument(
        "--load-balancer",
        choices=("hostname", "ip", "none"),
        default=None,
        help="what LoadBalancer Services get [default: timing.yaml's load_balancer.address]",
    )
    args = parser.parse_args(argv)
    faults = Faults(
        error_rate=args.error_rate, throttle_rate=args.throttle_rate, drop_rate=args.drop_rate
    )
    sim = SimCluster(
        port=args.port,
        clock_scale=args.clock_scale,
        faults=faults,
        state_file=args.state,
        load_balancer={"address": args.load_balancer} if args.load_balancer else None,
    )
    sim.start()
    sim.kubeconfig(args.kubeconfig)
    sys.stdout.write(f"{sim.url}\n")
    sys.stdout.flush()
    done = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: done.set())
    done.wait()
    sim.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
