"""Benchmark: `kfstack apply` against a bare `terraform apply` of the same configuration.

Both run against the AWS emulator (moto, in this process) from an empty state and an
uninitialised directory, alternating, for several rounds; the emulator is reset
between runs. kfstack's side is the real CLI in a subprocess (spec → configuration,
credentials check, init, plan, apply of the saved plan, outputs); the bare side is
`terraform init` + `terraform apply -auto-approve` of the configuration kfstack
generates for the same spec. Prints each pair and the ratio of the medians
(target: <= 1.10).

    .venv/bin/python scripts/bench_apply.py [--rounds 3] [--spec examples/aws.yaml]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests"))

import aws_harness  # noqa: E402

import stacks  # noqa: E402
from installer.sandbox.aws_emulator import AwsEmulator  # noqa: E402
from installer.spec import load_spec  # noqa: E402


def _timed(argv: list[str], cwd: Path, env: dict[str, str]) -> float:
    started = time.perf_counter()
    proc = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - started
    if proc.returncode != 0:
        sys.exit(f"{' '.join(argv)} failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--spec", default=str(REPO / "examples" / "aws.yaml"))
    args = parser.parse_args()

    spec = load_spec(args.spec).spec
    terraform = shutil.which(spec.engine.binary) or sys.exit("terraform is not on PATH")
    kfstack = str(Path(sys.executable).with_name("kfstack"))
    with tempfile.TemporaryDirectory(prefix="kfstack-bench-") as tmp:
        base = Path(tmp)
        emulator = AwsEmulator()
        emulator.start()
        try:
            env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
            env.update(emulator.env(spec.region or "us-west-2"))
            env.update(aws_harness.terraform_env(base / "tf"))
            env["CI"] = "true"
            # A copy, so the runs' logs land in the temporary directory, not in examples/.
            spec_path = base / "kfstack.yaml"
            shutil.copyfile(args.spec, spec_path)
            # Fill the shared plugin cache first, so neither side pays for unpacking the
            # provider (the first init otherwise costs ~10 s more than any later one).
            warm = base / "warm"
            stacks.for_spec(spec).write(warm)
            _timed([terraform, "init", "-input=false"], warm, env)
            ours, bare = [], []
            for round_ in range(1, args.rounds + 1):
                work = base / f"kfstack-{round_}"
                ours.append(
                    _timed(
                        [kfstack, "apply", "--yes", "-c", str(spec_path), "--workdir", str(work)],
                        REPO,
                        env,
                    )
                )
                emulator.reset()

                root = base / f"bare-{round_}"
                stacks.for_spec(spec).write(root)
                started = time.perf_counter()
                _timed([terraform, "init", "-input=false"], root, env)
                _timed([terraform, "apply", "-auto-approve", "-input=false"], root, env)
                bare.append(time.perf_counter() - started)
                emulator.reset()
                print(
                    f"round {round_}: kfstack apply {ours[-1]:6.1f} s   "
                    f"terraform init+apply {bare[-1]:6.1f} s   ratio {ours[-1] / bare[-1]:.3f}",
                    flush=True,
                )
        finally:
            emulator.close()
    ratio = statistics.median(ours) / statistics.median(bare)
    print(
        f"median: kfstack {statistics.median(ours):.1f} s, terraform "
        f"{statistics.median(bare):.1f} s, ratio {ratio:.3f} (target <= 1.10)"
    )


if __name__ == "__main__":
    main()
