"""`kfstack verify`: run the platform checks against a running cluster and report them.

The command resolves the kubeconfig (`--kubeconfig`, else the existing target's, else
the one `up` keeps in the work directory), connects through `connect()`, runs
`installer.verify.run` and writes the report to `<workdir>/verify/report.json`. Exit code
0 when nothing failed (checks that could not run are listed with the reason), 1 when a
check failed, 2 for a usage problem.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from installer import verify
from installer.commands import common
from installer.console import Run
from installer.errors import UserError
from installer.spec import paths as spec_paths
from installer.spec.model import Spec
from installer.verify.kube import KubeApi, RestKube
from installer.workdir import Workdir

SIMULATOR_MARK = "kfstack-simulator"  # see installer.simcluster.server.SIMULATOR_VERSION


def kubeconfig_for(spec: Spec, wd: Workdir, given: str | None) -> Path:
    """The kubeconfig to use. Raises UserError when it does not exist."""
    if given:
        path, source = Path(given).expanduser(), "--kubeconfig"
    elif spec.target == "existing":
        written = spec.existing.kubeconfig
        path = spec.local_path(written)
        if not path.is_file():
            raise spec_paths.not_found("existing.kubeconfig", written, spec.base_dir)
        return path
    else:
        path, source = wd.kubeconfig, "the work directory"
    if not path.is_file():
        raise UserError(
            f"no kubeconfig at {path} (from {source})",
            hint="run `kfstack up` first, or pass --kubeconfig PATH",
        )
    return path


def connect(kubeconfig: Path, context: str | None) -> KubeApi:
    """A Kubernetes API client for the verify checks, over the engine's REST client.

    Raises:
        UserError: the kubeconfig is malformed.
        KfstackError: this build has no Kubernetes client.
    """
    from installer import kube

    client = kube.connect(kubeconfig, context=context)
    return RestKube(client, runs_workloads=not is_simulator(client))


def is_simulator(client: Any) -> bool:
    """Whether the API server is kfstack's simulated cluster, which says so in /version.

    A server that cannot answer is treated as real: the checks then report what fails.
    """
    try:
        version = client.request("GET", "/version")
    except Exception:  # noqa: BLE001 - any failure here is reported by the checks
        return False
    return SIMULATOR_MARK in str((version or {}).get("gitVersion", ""))


@click.command("verify")
@common.spec_option
@common.workdir_option
@click.option("--kubeconfig", default=None, help="Kubeconfig of the cluster [default: as `up`].")
@click.option("--context", default=None, help="Context in the kubeconfig.")
@click.option(
    "--check",
    "selected",
    multiple=True,
    type=click.Choice(verify.CHECKS),
    help="Run only these checks (repeatable) [default: all].",
)
@click.option("--kfp-url", default=None, help="KFP API base [default: https://<domain>/pipeline].")
@click.option(
    "--ca-file",
    default=None,
    type=click.Path(dir_okay=False, exists=True),
    help="CA bundle that signed the gateway's certificate.",
)
@click.option(
    "--timeout",
    default=900,
    show_default=True,
    type=click.IntRange(10, 7200),
    help="Seconds each GPU Job, pipeline run or notebook may take.",
)
@common.output_option
@common.debug_option
@common.kfstack_command("verify", spec_logs=True)
def command(
    run: Run,
    config: str,
    workdir: str | None,
    kubeconfig: str | None,
    context: str | None,
    selected: tuple[str, ...],
    kfp_url: str | None,
    ca_file: str | None,
    timeout: int,
    output: str,
    debug: bool,
) -> int:
    """Check a running platform: GPUs, pipelines (with team isolation) and notebooks.

    Exit code 0 when no check failed, 1 when one did.
    """
    loaded, wd = common.load(run, config, workdir)
    spec = loaded.spec
    if spec.target == "existing" and context is None:
        context = spec.existing.context
    path = kubeconfig_for(spec, wd, kubeconfig)
    kube = connect(path, context)
    options = verify.VerifyOptions(
        checks=tuple(c for c in verify.CHECKS if c in selected) or verify.CHECKS,
        kfp_url=kfp_url,
        ca_file=ca_file,
        gpu_timeout=timeout,
        pipeline_timeout=timeout,
        notebook_timeout=timeout,
    )
    report = verify.run(spec, kube, options, run.reporter)
    report_path = report.write(wd.root / "verify" / "report.json")
    counts = report.to_dict()["summary"]
    if output == "json":
        run.emit_json(report.to_dict() | {"report": str(report_path)})
    else:
        run.echo(
            f"verify {spec.full_name}: {counts['passed']} passed, {counts['failed']} failed, "
            f"{counts['not-run']} not run; report: {report_path}"
        )
        for check in report.not_run:
            run.echo(f"  not run: {check.name}: {check.reason}")
        for check in report.failed:
            run.echo(f"  failed: {check.name}: {check.reason}")
    return common.EXIT_FAILED if report.failed else common.EXIT_OK
