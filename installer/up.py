"""`kfstack up`: from a spec to a verified platform, every phase resumable.

    up(spec, ...) runs, showing the same numbers on the console:
      1. render          the platform tree (pending values where only the infrastructure
                         knows them) beside the Terraform root, into the work directory
      2. plan            the Terraform plan and, when a cluster is already there, the
                         platform diff; the plan view (pools, GPUs, storage, cost)
      3. confirm         ask, unless --yes
      4. infrastructure  terraform apply of the plan saved in step 2, so what is applied
                         is what was shown; a plan terraform calls stale (the state changed
                         meanwhile) is made again and confirmed again (under --yes the run
                         stops instead). Skipped for `existing`, and skipped (↺) when the
                         configuration is unchanged since the last successful apply
      5. kubeconfig      written 0600 into the work directory
      6. platform        rendered again with the real outputs (cached); with
                         gitops.enabled committed (installer.gitops.publish), then the
                         install engine applies it; converged components are skipped (↺);
                         the phase and progress.json record the commit applied
      7. verify          GPUs, pipelines, notebooks; a JSON report in the work directory

then the summary reads the ingress gateway's address (installer.gateway; waiting up to
`gateway_timeout` for a cloud load balancer's): the dashboard URL, and with
kubeflow.domain the DNS record the domain needs.

`progress.json` in the work directory records each finished phase with the digest of
its inputs, so a re-run after a failure or an interruption starts where it stopped:
the infrastructure is not touched again when its configuration has not changed.
"""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import stacks
from installer import gateway, planview
from installer import infra as _infra
from installer.console import OK, RESUME, Reporter
from installer.errors import KfstackError, UserError
from installer.secrets import SecretStore
from installer.spec.model import Spec
from installer.terraform import StalePlanError
from installer.workdir import Workdir, write_private
from stacks.base import InfraOutputs, modules_root

LOG = logging.getLogger("kfstack.up")

STEPS = 7
PROGRESS_FORMAT = 1


# ---------------------------------------------------------------------------- progress


@dataclass
class Progress:
    """What earlier runs finished, read from and written to `<workdir>/progress.json`."""

    path: Path
    phases: dict[str, dict[str, Any]] = field(default_factory=dict)

    @classmethod
    def load(cls, path: Path) -> Progress:
        try:
            data = json.loads(path.read_text())
        except (OSError, ValueError):
            return cls(path)
        if data.get("format") != PROGRESS_FORMAT:
            return cls(path)
        return cls(path, dict(data.get("phases") or {}))

    def done(self, phase: str, digest: str) -> dict[str, Any] | None:
        record = self.phases.get(phase)
        if record and record.get("state") == "done" and record.get("digest") == digest:
            return record
        return None

    def record(self, phase: str, digest: str, seconds: float, **extra: Any) -> None:
        self.phases[phase] = {
            "state": "done",
            "digest": digest,
            "seconds": round(seconds, 3),
            "finished": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            **extra,
        }
        self._save()

    def forget(self, phase: str) -> None:
        if self.phases.pop(phase, None) is not None:
            self._save()

    def _save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        payload = {"format": PROGRESS_FORMAT, "phases": self.phases}
        write_private(self.path, json.dumps(payload, indent=2, sort_keys=True) + "\n")


# ---------------------------------------------------------------------------- result


@dataclass
class UpResult:
    platform: str
    target: str
    sandbox: bool
    phases: list[dict[str, Any]] = field(default_factory=list)
    plan: dict[str, Any] | None = None
    outputs: dict[str, Any] | None = None
    platform_result: dict[str, Any] | None = None
    verify: dict[str, Any] | None = None
    kubeconfig: str | None = None
    dashboard: str | None = None
    # Where users reach it: the gateway's address and the domain's DNS record.
    access: gateway.Dashboard | None = None
    sign_in: dict[str, Any] | None = None
    gitops: dict[str, Any] | None = None
    ok: bool = True
    confirmed: bool = True

    def to_dict(self) -> dict[str, Any]:
        return {
            "platform": self.platform,
            "target": self.target,
            "sandbox": self.sandbox,
            "ok": self.ok,
            "confirmed": self.confirmed,
            "phases": self.phases,
            "plan": self.plan,
            "infrastructure_outputs": self.outputs,
            "platform_apply": self.platform_result,
            "verify": self.verify,
            "kubeconfig": self.kubeconfig,
            "dashboard": self.dashboard,
            "gateway_address": self.access.gateway.address if self.access else None,
            "dns_record": self.access.dns_record if self.access else None,
            "gateway": self.access.gateway.to_dict() if self.access else None,
            "sign_in": self.sign_in,
            "gitops": self.gitops,
        }


@dataclass
class Environment:
    """Where `up` runs: a real target, or the sandbox's local stand-ins.

    `context` wraps every Terraform/cloud call (the sandbox starts its AWS API
    emulator there); `write_kubeconfig` gives the phase its cluster; `simulated` says
    whether workloads really run (verify reports what it could not check).
    """

    name: str
    context: Callable[[], Any]
    write_kubeconfig: Callable[[Spec, InfraOutputs, Path], Path]
    simulated: bool = False
    notes: list[str] = field(default_factory=list)
    # Called as secret_store(directory, spec=spec): the spec's `file:` references (also
    # those copied into the tree) are read from the spec's folder.
    secret_store: Callable[..., SecretStore] = SecretStore
    # The kubeconfig of a cluster that already exists before this run (None: no cluster).
    existing_kubeconfig: Callable[[Workdir], Path | None] | None = None


def real_environment() -> Environment:
    def write(spec: Spec, outputs: InfraOutputs, dest: Path) -> Path:
        return stacks.for_spec(spec).write_kubeconfig(outputs, dest)

    def existing(workdir: Workdir) -> Path | None:
        return workdir.kubeconfig if workdir.kubeconfig.exists() else None

    return Environment(
        name="real", context=ExitStack, write_kubeconfig=write, existing_kubeconfig=existing
    )


# ---------------------------------------------------------------------------- up


@dataclass
class UpOptions:
    confirm: Callable[[planview.Plan], bool] | None = None
    show_plan: Callable[[planview.Plan], None] | None = None
    verify: bool = True
    verify_checks: tuple[str, ...] | None = None
    platform_timeout: float = 1800.0
    # How long to wait for the cloud to give the gateway's load balancer an address.
    gateway_timeout: float = 300.0
    concurrency: int = 4
    # --yes: `confirm` approves without a person, so a stale plan cannot be re-reviewed.
    yes: bool = False
    # The spec file as written: gitops commits it beside the render and digests it.
    spec_path: Path | None = None


def up(
    spec: Spec,
    workdir: Workdir,
    reporter: Reporter,
    *,
    env: Environment | None = None,
    options: UpOptions | None = None,
) -> UpResult:
    """Run the phases in the module docstring and return what each did.

    Raises:
        UserError: a tool, credential, pending value or secret a person must provide.
        ToolError / StateLockedError: terraform failed or another run holds the lock.
        KfstackError: the platform did not converge (the result is in the log).
        Interrupted: Ctrl-C; a re-run resumes.
    """
    env = env or real_environment()
    options = options or UpOptions()
    workdir.ensure()
    progress = Progress.load(workdir.progress)
    result = UpResult(platform=spec.full_name, target=spec.target, sandbox=env.simulated)
    store = env.secret_store(workdir.secrets, spec=spec)
    stack = stacks.for_spec(spec)
    has_infra = spec.target != "existing"
    infra_digest = _infra_digest(spec, stack) if has_infra else "none"
    known = _known_outputs(progress, infra_digest) or stack.pending_outputs()

    with env.context():
        # 1. render (with what is known so far)
        with _phase(result, reporter, 1, "render"):
            _render(spec, known, workdir, reporter)

        # 2. plan
        with _phase(result, reporter, 2, "plan") as phase:
            tf_summary = None
            if not has_infra:
                phase["detail"] = "existing cluster: no infrastructure to plan"
            elif progress.done("infrastructure", infra_digest):
                phase["detail"] = "infrastructure unchanged since the last apply"
                reporter.line(f"{RESUME} {phase['detail']} (`kfstack plan` re-checks the cloud)")
            else:
                tf_summary = _infra.plan_infra(spec, workdir, reporter)
            diff = _platform_diff(workdir, known, store, env, reporter)
            plan = planview.build(spec, tf_summary=_tf_for_view(tf_summary), platform_diff=diff)
            result.plan = plan.to_dict()
            if options.show_plan is not None:
                options.show_plan(plan)

        # 3. confirm
        with _phase(result, reporter, 3, "confirm") as phase:
            needs_change = tf_summary is not None and tf_summary.has_changes
            needs_platform = not progress.done("platform", _platform_digest(workdir))
            if (needs_change or needs_platform) and options.confirm is not None:
                if not options.confirm(plan):
                    result.confirmed = False
                    result.ok = False
                    phase["detail"] = "not confirmed: nothing was changed"
                    return result
            else:
                phase["detail"] = "nothing to change" if not needs_platform else "confirmed"

        # 4. infrastructure
        with _phase(result, reporter, 4, "infrastructure") as phase:
            if not has_infra:
                phase["detail"] = "skipped: target existing"
                outputs = stack.pending_outputs()
            elif (record := progress.done("infrastructure", infra_digest)) is not None:
                outputs = InfraOutputs.model_validate(record["outputs"])
                phase["detail"] = "unchanged, not re-provisioned"
                phase["resumed"] = True
            else:
                started = time.monotonic()
                assert tf_summary is not None  # planned in step 2 whenever this runs
                applied = _apply_reviewed(
                    spec, workdir, reporter, options, (tf_summary, diff), result
                )
                if applied is None:
                    result.confirmed = False
                    result.ok = False
                    phase["detail"] = "the new plan was not confirmed: nothing was changed"
                    return result
                if applied.outputs is None:  # pragma: no cover - apply always reads outputs
                    raise KfstackError("the infrastructure apply returned no outputs")
                outputs = applied.outputs
                progress.record(
                    "infrastructure",
                    infra_digest,
                    time.monotonic() - started,
                    outputs=outputs.model_dump(mode="json"),
                )
                phase["detail"] = applied.plan.headline()
            result.outputs = outputs.model_dump(mode="json")

        # 5. kubeconfig
        with _phase(result, reporter, 5, "kubeconfig") as phase:
            path = env.write_kubeconfig(spec, outputs, workdir.kubeconfig)
            result.kubeconfig = str(path)
            phase["detail"] = str(path)

        # 6. platform
        with _phase(result, reporter, 6, "platform") as phase:
            if outputs.model_dump() != known.model_dump():
                _render(spec, outputs, workdir, reporter)
            # Committed only now, after the confirmation: where a GitOps controller watches
            # the branch, a push is itself a deployment, so a declined plan must not be one.
            _commit(spec, stack, workdir, store, reporter, options, result, phase)
            applied = _apply_platform(spec, workdir, outputs, store, path, reporter, options)
            result.platform_result = applied.to_dict()
            if not applied.ok:
                failed = ", ".join(c.name for c in applied.failures())
                raise KfstackError(
                    f"the platform did not converge: {failed}",
                    hint="fix the error above, then run `kfstack up` again to resume",
                )
            commit = (result.gitops or {}).get("commit")
            progress.record("platform", _platform_digest(workdir), applied.seconds, commit=commit)
            unchanged = sum(1 for c in applied.components.values() if c.state == "unchanged")
            phase["detail"] = f"{len(applied.components)} components, {unchanged} unchanged"
            if unchanged == len(applied.components):
                phase["resumed"] = True

        # 7. verify
        with _phase(result, reporter, 7, "verify") as phase:
            if not options.verify:
                phase["detail"] = "skipped (--skip-verify)"
            else:
                report = _verify(spec, workdir, outputs, path, reporter, options, env)
                result.verify = report
                failed = [c["name"] for c in report["checks"] if c["result"] == "failed"]
                not_run = [c["name"] for c in report["checks"] if c["result"] == "not-run"]
                phase["detail"] = (
                    f"{len(report['checks']) - len(failed) - len(not_run)} passed, "
                    f"{len(failed)} failed, {len(not_run)} not run"
                )
                if failed:
                    result.ok = False

        # After verify, so the cloud builds the load balancer while the checks run; inside
        # the environment, whose cluster (the sandbox's simulator) ends with it.
        _dashboard(spec, path, reporter, options, result)
    result.sign_in = _sign_in(spec, workdir)
    return result


# ---------------------------------------------------------------------------- phases


@contextmanager
def _phase(
    result: UpResult, reporter: Reporter, number: int, title: str
) -> Iterator[dict[str, Any]]:
    record: dict[str, Any] = {"number": number, "name": title, "state": "running"}
    result.phases.append(record)
    reporter.phase(number, STEPS, title)
    started = time.monotonic()
    try:
        yield record
    except BaseException:
        record["state"] = "failed"
        raise
    finally:
        record["seconds"] = round(time.monotonic() - started, 2)
    record["state"] = "resumed" if record.get("resumed") else "done"
    detail = f": {record['detail']}" if record.get("detail") else ""
    mark = RESUME if record["state"] == "resumed" else OK
    reporter.line(f"{mark} {title} ({record['seconds']:.1f}s){detail}")


def _render(spec: Spec, outputs: InfraOutputs, workdir: Workdir, reporter: Reporter) -> Any:
    from installer.platform import render as _render_mod

    return _render_mod.render(spec, outputs, workdir.root, reporter)


def _apply_reviewed(
    spec: Spec,
    workdir: Workdir,
    reporter: Reporter,
    options: UpOptions,
    reviewed: tuple[Any, planview.PlatformDiff | None],
    result: UpResult,
) -> _infra.InfraResult | None:
    """Apply the plan step 2 saved; when terraform calls it stale, plan again and ask
    again (None: the new plan was declined).

    Raises:
        KfstackError: the plan is stale and nobody can review a new one (--yes).
        StalePlanError: the new plan went stale too (another run keeps applying).
    """
    summary, diff = reviewed
    try:
        return _infra.apply_plan(spec, workdir, reporter, summary)
    except StalePlanError as exc:
        if options.yes or options.confirm is None:
            raise KfstackError(
                "the infrastructure changed after the plan was made (another run applied "
                f"to the same state?), so nothing was applied: {exc.message.splitlines()[0]}",
                hint="run `kfstack up` again without --yes to review the new plan",
            ) from None
        LOG.info("stale plan: %s", exc.message)
    reporter.warn("the plan shown is stale (the state changed since); planning again")
    summary = _infra.plan_infra(spec, workdir, reporter)
    shown = planview.build(spec, tf_summary=_tf_for_view(summary), platform_diff=diff)
    result.plan = shown.to_dict()
    if options.show_plan is not None:
        options.show_plan(shown)
    if not options.confirm(shown):
        return None
    return _infra.apply_plan(spec, workdir, reporter, summary)


def _commit(
    spec: Spec,
    stack: Any,
    workdir: Workdir,
    store: SecretStore,
    reporter: Reporter,
    options: UpOptions,
    result: UpResult,
    phase: dict[str, Any],
) -> None:
    """Commit the render just written (gitops.enabled); the phase records the SHA."""
    if not spec.gitops.enabled:
        return
    from installer import gitops

    if options.spec_path is None:
        raise UserError("gitops.enabled needs the spec file to commit it beside the render")
    # The Terraform root as generated, not workdir/terraform (state, plans, providers).
    root = Path(tempfile.mkdtemp(prefix=".gitops-terraform-", dir=workdir.root))
    try:
        stack.write(root)
        files = {**gitops.render_files(workdir.root, options.spec_path), "terraform": root}
        published = gitops.publish(spec, options.spec_path, files, workdir, store, reporter)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    result.gitops = published.to_dict()
    phase["commit"] = published.commit
    reporter.ok(published.line())


def _tree_root(workdir: Workdir) -> Path:
    return workdir.platform


def _apply_platform(
    spec: Spec,
    workdir: Workdir,
    outputs: InfraOutputs,
    store: SecretStore,
    kubeconfig: Path,
    reporter: Reporter,
    options: UpOptions,
) -> Any:
    from installer import engine, kube
    from installer.platform.tree import PlatformTree

    tree = PlatformTree.open(_tree_root(workdir))
    client = kube.connect(kubeconfig)
    return engine.apply_platform(
        tree,
        client,
        infra=outputs.model_dump(mode="json"),
        store=store,
        reporter=reporter,
        concurrency=options.concurrency,
        timeout=options.platform_timeout,
    )


def _platform_diff(
    workdir: Workdir,
    known: InfraOutputs,
    store: SecretStore,
    env: Environment,
    reporter: Reporter,
) -> planview.PlatformDiff | None:
    """Objects to create/change/prune per component, when a cluster is already there.

    Best effort: before the first apply there is no cluster (None, and the plan view
    says so); an unreachable cluster is reported and the run goes on.
    """
    kubeconfig = env.existing_kubeconfig(workdir) if env.existing_kubeconfig else None
    if kubeconfig is None or not _tree_root(workdir).joinpath("index.yaml").exists():
        return None
    from installer import engine, kube
    from installer.platform.tree import PlatformTree

    try:
        plans = engine.plan_platform(
            PlatformTree.open(_tree_root(workdir)),
            kube.connect(kubeconfig),
            infra=known.model_dump(mode="json"),
            store=store,
        )
    except (kube.KubeError, KfstackError) as exc:
        reporter.warn(f"no platform diff: the cluster did not answer ({exc})")
        return None
    return planview.PlatformDiff.from_components(plans)


def _verify(
    spec: Spec,
    workdir: Workdir,
    outputs: InfraOutputs,
    kubeconfig: Path,
    reporter: Reporter,
    options: UpOptions,
    env: Environment,
) -> dict[str, Any]:
    from installer import verify as _verify_mod
    from installer.commands.verify import connect

    vopts = _verify_mod.VerifyOptions(infra=outputs)
    if options.verify_checks:
        vopts.checks = options.verify_checks
    report = _verify_mod.run(spec, connect(kubeconfig, None), vopts, reporter)
    data = report.to_dict()
    write_private(workdir.root / "verify-report.json", json.dumps(data, indent=2) + "\n")
    return data


# ---------------------------------------------------------------------------- digests


def _infra_digest(spec: Spec, stack: Any) -> str:
    """What the infrastructure phase depends on: the root documents and module sources."""
    hasher = hashlib.sha256()
    for name, document in sorted(stack.documents().items()):
        hasher.update(name.encode() + b"\0" + json.dumps(document, sort_keys=True).encode())
    root = modules_root()
    for module in sorted(stack.module_names()):
        for path in sorted((root / module).rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts:
                rel = path.relative_to(root).as_posix()
                hasher.update(rel.encode() + b"\0" + path.read_bytes())
    hasher.update(spec.engine.model_dump_json().encode())
    return "sha256:" + hasher.hexdigest()


def _platform_digest(workdir: Workdir) -> str:
    index = _tree_root(workdir) / "index.yaml"
    if not index.exists():
        return "none"
    return "sha256:" + hashlib.sha256(index.read_bytes()).hexdigest()


def _known_outputs(progress: Progress, infra_digest: str) -> InfraOutputs | None:
    record = progress.done("infrastructure", infra_digest)
    if record and record.get("outputs"):
        return InfraOutputs.model_validate(record["outputs"])
    return None


def _tf_for_view(summary: Any) -> planview.TerraformSummary | None:
    return None if summary is None else planview.TerraformSummary.from_plan_summary(summary)


# ---------------------------------------------------------------------------- summary


def _dashboard(
    spec: Spec, kubeconfig: Path, reporter: Reporter, options: UpOptions, result: UpResult
) -> None:
    """Fill in where users reach the platform: the dashboard URL, the gateway's address
    and the DNS record for kubeflow.domain. A load balancer still without an address is
    reported with the command to look again; it does not fail the run."""
    from installer.commands.verify import connect

    reporter.line("reading the gateway's address (a cloud load balancer takes 1-3 min)")
    address = gateway.find(
        connect(kubeconfig, None),
        spec,
        timeout=options.gateway_timeout,
        kubeconfig=str(kubeconfig),
        progress=gateway.wait_reporter(reporter.line),
    )
    if address.address is None:
        reporter.warn(f"gateway: {address.pending}; check: {address.check}")
    else:
        reporter.ok(f"gateway {address.host_port()} ({address.service_type})")
    result.access = gateway.summary(spec, address)
    result.dashboard = result.access.url


def _sign_in(spec: Spec, workdir: Workdir) -> dict[str, Any]:
    info: dict[str, Any] = {"connectors": [c.connector_id for c in spec.kubeflow.auth.connectors]}
    if spec.kubeflow.auth.admin.enabled:
        info["admin"] = spec.kubeflow.auth.admin.email
        info["password_file"] = str(SecretStore(workdir.secrets).path("admin-password"))
    return info


def require_sandbox_target(spec: Spec) -> None:
    """Raises UserError unless the spec is one the sandbox can emulate (AWS)."""
    if spec.target != "aws":
        raise UserError(
            f"the sandbox emulates AWS only; this spec's target is {spec.target}",
            hint="try `kfstack up --sandbox -c examples/aws.yaml`",
        )
