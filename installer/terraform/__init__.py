"""The Terraform runner: the real `terraform` (or `tofu`) binary, driven as a subprocess.

`Terraform.for_spec(spec, directory, reporter)` finds the binary named by
`spec.engine.binary` and checks `spec.engine.version`. The methods map to commands:

    init()              terraform init -input=false          (skipped when nothing changed)
    plan(destroy=False) terraform plan -input=false -json -out=kfstack.tfplan -> PlanSummary
    show_plan()         terraform show -json kfstack.tfplan  -> PlanSummary
    apply(plan)         terraform apply -input=false -json kfstack.tfplan  (that plan only:
                        a replaced plan file or a plan terraform calls stale -> StalePlanError)
    apply_auto()        terraform apply -input=false -json -auto-approve (nobody reviews)
    output()            terraform output -json
    validate()          terraform validate -json

Every run has `TF_IN_AUTOMATION=1` and `TF_INPUT=0`. The `-json` event streams become
progress on the Reporter (resources done of total, elapsed, current resource), and
error diagnostics become a `ToolError` naming the resource address with Terraform's
summary and detail. A held state lock becomes `StateLockedError`, naming the lock id.
Terraform runs in its own process group, so a Ctrl-C reaches it once, from us: we
forward SIGINT and wait for it to stop gracefully (it releases the state lock and
writes what it created to the state), then raise `Interrupted`.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import logging
import os
import pwd
import re
import signal
import socket
import subprocess
import threading
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from installer import tools
from installer.console import Reporter
from installer.errors import Interrupted, ToolError, ToolMissingError
from installer.spec import paths as spec_paths
from installer.spec.model import Spec

LOG = logging.getLogger("kfstack.terraform")

PLAN_FILE = "kfstack.tfplan"
_INIT_STAMP = "kfstack-init.sha256"
# `planned_change` actions of the plan stream and the counters each one moves.
_STREAM_KINDS = {
    "create": ["add"],
    "update": ["change"],
    "delete": ["destroy"],
    "replace": ["add", "destroy"],
}
# How long terraform gets to stop after SIGINT before it is killed (it must release
# the lock and persist state, which against a slow backend takes a while).
_GRACE_SECONDS = 60


class StateLockedError(ToolError):
    """Another run holds the Terraform state lock."""


class StalePlanError(ToolError):
    """The saved plan can no longer be applied as shown: the state changed after it was
    made (terraform refuses it), or the plan file was replaced by another plan."""


@dataclass
class Diagnostic:
    severity: str
    summary: str
    detail: str = ""
    address: str | None = None

    def render(self) -> str:
        where = f"{self.address}: " if self.address else ""
        text = f"{where}{self.summary}"
        if self.detail:
            text += "\n    " + "\n    ".join(self.detail.strip().splitlines())
        return text


@dataclass
class PlanSummary:
    """What a saved plan would do, from `terraform show -json`."""

    add: int = 0
    change: int = 0
    destroy: int = 0
    by_type: dict[str, dict[str, int]] = field(default_factory=dict)
    changes: list[dict[str, Any]] = field(default_factory=list)
    output_changes: list[str] = field(default_factory=list)
    plan_file: str | None = None
    # sha256 of the saved plan file when it was summarised: apply refuses any other file.
    plan_digest: str | None = None

    @property
    def has_changes(self) -> bool:
        return bool(self.changes or self.output_changes)

    @property
    def operations(self) -> int:
        """Resource operations apply performs (a replacement is a delete and a create)."""
        return self.add + self.change + self.destroy

    def to_dict(self) -> dict[str, Any]:
        return {
            "changes_present": self.has_changes,
            "add": self.add,
            "change": self.change,
            "destroy": self.destroy,
            "by_type": self.by_type,
            "resources": self.changes,
            "outputs": self.output_changes,
        }

    def headline(self) -> str:
        if not self.has_changes:
            return "no changes"
        if not self.changes:
            return "no resource changes (outputs only)"
        return f"{self.add} to add, {self.change} to change, {self.destroy} to destroy"

    def _count(self, rtype: str, address: str, kinds: list[str], action: str) -> None:
        per_type = self.by_type.setdefault(rtype, {"add": 0, "change": 0, "destroy": 0})
        for kind in kinds:
            setattr(self, kind, getattr(self, kind) + 1)
            per_type[kind] += 1
        self.changes.append({"address": address, "action": action})

    @classmethod
    def from_events(cls, events: list[dict[str, Any]]) -> PlanSummary:
        """From the `planned_change` and `outputs` events of `plan -json`."""
        summary = cls()
        for event in events:
            if event.get("type") == "planned_change":
                change = event.get("change", {})
                resource = change.get("resource", {})
                action = change.get("action", "")
                kinds = _STREAM_KINDS.get(action)
                if kinds is None:  # read, move, import, forget: nothing is changed
                    continue
                name = {"create": "add", "update": "change", "delete": "destroy"}
                summary._count(
                    resource.get("resource_type", "?"),
                    resource.get("addr", "?"),
                    kinds,
                    name.get(action, action),
                )
            elif event.get("type") == "outputs":
                for out_name, out in sorted((event.get("outputs") or {}).items()):
                    if out.get("action") not in (None, "noop"):
                        summary.output_changes.append(out_name)
        summary.changes.sort(key=lambda c: c["address"])
        return summary

    @classmethod
    def from_show(cls, data: dict[str, Any]) -> PlanSummary:
        summary = cls()
        for rc in data.get("resource_changes", []):
            actions = rc.get("change", {}).get("actions", [])
            if actions in (["no-op"], ["read"]):
                continue
            kinds = []
            if "create" in actions:
                kinds.append("add")
            if "update" in actions:
                kinds.append("change")
            if "delete" in actions:
                kinds.append("destroy")
            action = "replace" if len(kinds) == 2 else kinds[0] if kinds else "+".join(actions)
            summary._count(rc["type"], rc["address"], kinds, action)
        for name, change in sorted((data.get("output_changes") or {}).items()):
            if change.get("actions") != ["no-op"]:
                summary.output_changes.append(name)
        summary.changes.sort(key=lambda c: c["address"])
        return summary


class Terraform:
    """One Terraform root directory driven by one binary."""

    def __init__(
        self,
        binary: str,
        directory: Path,
        reporter: Reporter | None = None,
        env: dict[str, str] | None = None,
    ) -> None:
        self.binary = binary
        self.directory = Path(directory)
        self.reporter = reporter or Reporter()
        self.extra_env = dict(env or {})
        # Set by apply() and apply_auto(): the outputs their stream reported, when complete.
        self.applied_outputs: dict[str, Any] | None = None

    @classmethod
    def for_spec(cls, spec: Spec, directory: Path, reporter: Reporter | None = None) -> Terraform:
        """The runner for `spec.engine`.

        Raises:
            ToolMissingError: the binary is missing or outside `engine.version`.
        """
        binary = spec.engine_command()
        if not spec_paths.is_command_name(spec.engine.binary) and not Path(binary).is_file():
            raise spec_paths.not_found(
                "engine.binary",
                spec.engine.binary,
                spec.base_dir,
                hint="point engine.binary at a terraform or tofu binary, or name one on PATH",
            )
        try:
            tool = tools.require(binary, spec.engine.version, purpose="infrastructure")
        except ToolMissingError as exc:
            exc.hint = (
                f"{exc.hint}; the spec's engine.binary ({spec.engine.binary}) and "
                f"engine.version ({spec.engine.version}) choose it"
            )
            raise
        return cls(tool.path, directory, reporter)

    @property
    def name(self) -> str:
        return Path(self.binary).name

    # ------------------------------------------------------------------ commands

    def init(self, *, force: bool = False) -> bool:
        """Install providers and modules; skipped when the configuration's inputs to init
        (providers, backend, module sources) match the last successful init.
        Returns whether init ran.

        Raises:
            ToolError: init failed (registry unreachable, backend refused ...).
        """
        stamp = self.directory / ".terraform" / _INIT_STAMP
        digest = self._init_digest()
        if not force and stamp.is_file() and stamp.read_text().strip() == digest:
            LOG.debug("init skipped: %s unchanged", self.directory)
            return False
        argv = [self.binary, "init", "-input=false", "-no-color"]
        if (self.directory / ".terraform").is_dir():
            argv.append("-reconfigure")
        proc = self._capture(argv)
        if proc.returncode != 0:
            raise self._error_from_text("init", argv, proc)
        # Digest again: the first init writes the lock file that is part of it.
        stamp.parent.mkdir(exist_ok=True)
        stamp.write_text(self._init_digest() + "\n")
        return True

    def plan(
        self,
        *,
        destroy: bool = False,
        show: bool = False,
        label: str = "plan",
        extra_args: Sequence[str] = (),
    ) -> PlanSummary:
        """Plan into `kfstack.tfplan` and summarise it.

        The summary comes from the plan's own event stream; with `show` it comes from
        `terraform show -json` of the saved plan instead, which is authoritative but
        starts the provider again to load its schema (5-7 s per run on these 2-core
        machines, measured), so apply and destroy do without it. `extra_args` go to
        `terraform plan` as given (e.g. `-target=<address>`).

        Raises:
            ToolError: the plan failed (a diagnostic names the resource).
            StateLockedError: another run holds the state lock.
        """
        argv = [self.binary, "plan", "-input=false", "-json", f"-out={PLAN_FILE}"]
        if destroy:
            argv.append("-destroy")
        argv.extend(extra_args)
        events = self._stream(argv, label=label, total=None)
        summary = self.show_plan() if show else PlanSummary.from_events(events)
        summary.plan_file = str(self.directory / PLAN_FILE)
        summary.plan_digest = _file_digest(self.directory / PLAN_FILE)
        return summary

    def show_plan(self) -> PlanSummary:
        """`terraform show -json` of the saved plan, summarised.

        Raises:
            ToolError: there is no saved plan or it cannot be read.
        """
        argv = [self.binary, "show", "-json", PLAN_FILE]
        proc = self._capture(argv)
        if proc.returncode != 0:
            raise self._error_from_text("show", argv, proc)
        return PlanSummary.from_show(json.loads(proc.stdout))

    def apply(self, summary: PlanSummary, *, label: str = "apply") -> None:
        """Apply the saved plan `summary` came from, and only that one.

        Raises:
            StalePlanError: the state changed since the plan (terraform refuses it), or
                the plan file is no longer the one `summary` describes (another plan
                in this directory replaced it).
            ToolError: a resource failed (the diagnostic names it).
            StateLockedError: another run holds the state lock.
            Interrupted: Ctrl-C (terraform was stopped gracefully first).
        """
        argv = [self.binary, "apply", "-input=false", "-json", PLAN_FILE]
        plan_path = self.directory / PLAN_FILE
        if summary.plan_digest is not None and _file_digest(plan_path) != summary.plan_digest:
            raise StalePlanError(
                f"the saved plan {plan_path} is not the one that was shown: another plan "
                "in this work directory replaced it",
                command=argv,
                hint="plan again and review the new plan",
            )
        self._remember_outputs(self._stream(argv, label=label, total=summary.operations))

    def apply_auto(self, *, label: str = "apply") -> PlanSummary:
        """Plan and apply in one `terraform apply -auto-approve`, for runs nobody reviews
        (`--yes`); returns the summary of what it planned, from its event stream.

        A saved plan plus its apply starts terraform and the provider twice; measured
        with scripts/bench_apply.py on the emulator that alone cost ~30% over a bare
        `terraform apply`, and it buys nothing when no one looks at the plan in between.

        Raises:
            ToolError, StateLockedError, Interrupted: as `apply`.
        """
        argv = [self.binary, "apply", "-input=false", "-json", "-auto-approve"]
        events = self._stream(argv, label=label, total=None)
        self._remember_outputs(events)
        return PlanSummary.from_events(events)

    def _remember_outputs(self, events: list[dict[str, Any]]) -> None:
        # An apply's stream ends with the outputs' values, in `terraform output -json`'s
        # shape, unless one is sensitive (then only `output` can read it).
        final = [e["outputs"] for e in events if e.get("type") == "outputs"][-1:]
        self.applied_outputs = (
            final[0]
            if final and all("value" in o and not o.get("sensitive") for o in final[0].values())
            else None
        )

    def apply_direct(self, extra_args: list[str], *, label: str = "apply") -> None:
        """`terraform apply -auto-approve` with `extra_args` (e.g. `-target=...`), for
        the narrow applies a stack's `destroy_prepare` makes; no saved plan.

        Raises:
            ToolError, StateLockedError, Interrupted: as `apply`.
        """
        argv = [self.binary, "apply", "-input=false", "-json", "-auto-approve", *extra_args]
        self._stream(argv, label=label, total=None)

    def output(self) -> dict[str, Any]:
        """`terraform output -json` as a dict (each value under `value`).

        Raises:
            ToolError: the outputs cannot be read.
        """
        argv = [self.binary, "output", "-json"]
        proc = self._capture(argv)
        if proc.returncode != 0:
            raise self._error_from_text("output", argv, proc)
        return json.loads(proc.stdout or "{}")

    def validate(self) -> None:
        """`terraform validate` against the installed providers.

        Raises:
            ToolError: the configuration is invalid (every error diagnostic listed).
        """
        argv = [self.binary, "validate", "-json", "-no-color"]
        proc = self._capture(argv)
        try:
            result = json.loads(proc.stdout)
        except ValueError:
            raise self._error_from_text("validate", argv, proc) from None
        diagnostics = [_diagnostic(d) for d in result.get("diagnostics", [])]
        errors = [d for d in diagnostics if d.severity == "error"]
        if errors or proc.returncode != 0:
            raise ToolError(
                f"{self.name} validate found {len(errors)} error(s):\n  "
                + "\n  ".join(d.render() for d in errors),
                command=argv,
                exit_code=proc.returncode,
            )

    # ------------------------------------------------------------------ plumbing

    def environment(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update(self.extra_env)
        env["TF_IN_AUTOMATION"] = "1"
        env["TF_INPUT"] = "0"
        return env

    def _init_digest(self) -> str:
        # init depends on the provider requirements, the backend and the module
        # tree; all of them live in the *.tf.json root and the copied modules.
        digest = hashlib.sha256(self.binary.encode())
        for path in sorted(self.directory.glob("*.tf.json")):
            digest.update(path.name.encode() + path.read_bytes())
        modules = self.directory / "modules"
        if modules.is_dir():
            for path in sorted(modules.rglob("*.tf")):
                digest.update(str(path.relative_to(modules)).encode() + path.read_bytes())
        lock = self.directory / ".terraform.lock.hcl"
        if lock.is_file():
            digest.update(lock.read_bytes())
        for var in ("TF_CLI_CONFIG_FILE", "TF_PLUGIN_CACHE_DIR"):
            digest.update(os.environ.get(var, "").encode())
        return digest.hexdigest()

    def _capture(self, argv: list[str]) -> subprocess.CompletedProcess[str]:
        LOG.debug("running %s in %s", " ".join(argv), self.directory)
        proc = self._popen(argv)
        try:
            stdout, stderr = proc.communicate()
        except KeyboardInterrupt:
            self._stop(proc, argv)
            raise
        LOG.debug("%s exited %s\n%s", argv[1], proc.returncode, _tail(stderr, 40))
        return subprocess.CompletedProcess(argv, proc.returncode, stdout, stderr)

    def _popen(self, argv: list[str]) -> subprocess.Popen[str]:
        try:
            return subprocess.Popen(
                argv,
                cwd=self.directory,
                env=self.environment(),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                # Own process group: a terminal Ctrl-C reaches terraform only through
                # us, once, so it can stop gracefully instead of being interrupted twice.
                start_new_session=True,
            )
        except OSError as exc:
            raise ToolError(f"cannot run {argv[0]}: {exc.strerror}", command=argv) from None

    def _stop(self, proc: subprocess.Popen[str], argv: list[str]) -> None:
        self.reporter.warn(f"stopping {self.name} gracefully (it releases the state lock)")
        try:
            proc.send_signal(signal.SIGINT)
            proc.wait(timeout=_GRACE_SECONDS)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        LOG.warning("%s %s stopped by interrupt (exit %s)", self.name, argv[1], proc.returncode)

    def _stream(self, argv: list[str], *, label: str, total: int | None) -> list[dict[str, Any]]:
        """Run a `-json` command, turning its events into progress and its errors into
        exceptions. Returns the events that describe the plan (changes and outputs)."""
        LOG.debug("running %s in %s", " ".join(argv), self.directory)
        started = time.time()
        proc = self._popen(argv)
        progress = _Progress(self.reporter, label, total)
        diagnostics: list[Diagnostic] = []
        raw_tail: deque[str] = deque(maxlen=40)
        kept: list[dict[str, Any]] = []
        assert proc.stdout is not None and proc.stderr is not None
        # Drained beside stdout: a chatty stderr (TF_LOG) must not fill its pipe and
        # stall terraform while we wait on stdout.
        stderr_lines: list[str] = []
        drain = threading.Thread(target=lambda: stderr_lines.extend(proc.stderr), daemon=True)
        drain.start()
        try:
            for line in proc.stdout:
                raw_tail.append(line.rstrip())
                try:
                    event = json.loads(line)
                except ValueError:
                    LOG.debug("%s: %s", argv[1], line.rstrip())
                    continue
                LOG.debug("%s: %s", argv[1], event.get("@message", ""))
                if event.get("type") == "diagnostic":
                    diagnostics.append(_diagnostic(event.get("diagnostic", {})))
                else:
                    if event.get("type") in ("planned_change", "outputs"):
                        kept.append(event)
                    progress.event(event)
            proc.wait()
            drain.join(timeout=10)
            stderr = "".join(stderr_lines[-200:])
        except KeyboardInterrupt:
            self._stop(proc, argv)
            raise Interrupted(
                f"{self.name} {argv[1]} was interrupted; it stopped gracefully",
                hint="re-run the same command to continue where it stopped",
            ) from None
        progress.finish(proc.returncode == 0)
        if proc.returncode == 0:
            return kept
        errors = [d for d in diagnostics if d.severity == "error"]
        tail = stderr or "\n".join(raw_tail)
        lock = next((d for d in errors if "state lock" in d.summary.lower()), None)
        if lock is not None:
            raise _lock_error(lock, argv, proc.returncode, self.directory, started)
        # terraform's own wording (internal/backend/local/backend_local.go, 1.x).
        stale = next((d for d in errors if "saved plan is stale" in d.summary.lower()), None)
        if stale is not None:
            raise StalePlanError(
                f"{self.name} {argv[1]} refused the saved plan: {stale.render()}",
                command=argv,
                exit_code=proc.returncode,
                hint="plan again and review the new plan",
            )
        if errors:
            raise ToolError(
                f"{self.name} {argv[1]} failed:\n  " + "\n  ".join(d.render() for d in errors),
                command=argv,
                exit_code=proc.returncode,
            )
        raise ToolError(
            f"{self.name} {argv[1]} failed",
            command=argv,
            exit_code=proc.returncode,
            stderr_tail=tail,
        )

    def _error_from_text(
        self, what: str, argv: list[str], proc: subprocess.CompletedProcess[str]
    ) -> ToolError:
        text = _strip_boxes(proc.stderr or proc.stdout)
        if "state lock" in text.lower():
            return _lock_error(
                Diagnostic("error", "Error acquiring the state lock", text),
                argv,
                proc.returncode,
                self.directory,
            )
        hint = None
        if what == "init" and "registry.terraform.io" in text:
            hint = (
                "the provider registry is unreachable: set TF_CLI_CONFIG_FILE to a CLI "
                "configuration with a provider_installation filesystem_mirror"
            )
        return ToolError(
            f"{self.name} {what} failed in {self.directory}",
            command=argv,
            exit_code=proc.returncode,
            stderr_tail=text,
            hint=hint,
        )


class _Progress:
    """Counts resource operations from `-json` hook events and reports them."""

    def __init__(self, reporter: Reporter, label: str, total: int | None) -> None:
        self.reporter = reporter
        self.label = label
        self.total = total
        self.done = 0
        self.planned = 0
        self.current: dict[str, float] = {}
        self.started = time.monotonic()
        self.summary: dict[str, Any] | None = None

    def event(self, event: dict[str, Any]) -> None:
        kind = event.get("type")
        hook = event.get("hook") or {}
        address = (hook.get("resource") or {}).get("addr")
        if kind == "apply_start" and address:
            self.current[address] = time.monotonic()
            self._report(f"{hook.get('action', '')} {address}")
        elif kind == "apply_progress" and address:
            self._report(f"{address} ({hook.get('elapsed_seconds', 0)}s)")
        elif kind in ("apply_complete", "apply_errored") and address:
            self.current.pop(address, None)
            # Data sources read during apply have hooks too, but no planned change to count.
            if hook.get("action") != "read":
                self.done += 1
            self._report(f"{'done' if kind == 'apply_complete' else 'failed'} {address}")
        elif kind == "planned_change":
            # A one-step apply announces its plan first; its operations are the total.
            action = (event.get("change") or {}).get("action", "")
            self.planned += len(_STREAM_KINDS.get(action, []))
        elif kind in ("refresh_start", "refresh_complete") and address:
            self.reporter.progress(f"{self.label} (reading)", 0, None, address)
        elif kind == "change_summary":
            self.summary = event.get("changes")

    def _report(self, detail: str) -> None:
        if self.total is None and self.planned:
            self.total = self.planned
        elapsed = time.monotonic() - self.started
        LOG.debug("%s %d/%s %.0fs %s", self.label, self.done, self.total, elapsed, detail)
        self.reporter.progress(self.label, self.done, self.total, detail)

    def finish(self, ok: bool) -> None:
        if self.total:
            self.reporter.progress(self.label, self.done, self.total, "finished" if ok else "")


def _diagnostic(raw: dict[str, Any]) -> Diagnostic:
    return Diagnostic(
        severity=raw.get("severity", "error"),
        summary=raw.get("summary", ""),
        detail=raw.get("detail", ""),
        # Provider errors carry the resource address; configuration errors only say
        # where in the configuration they are.
        address=raw.get("address") or (raw.get("snippet") or {}).get("context") or None,
    )


_LOCK_FIELD = re.compile(r"^\s*(ID|Path|Operation|Who|Created):\s*(.*)$", re.MULTILINE)


def _lock_error(
    lock: Diagnostic, argv: list[str], code: int, directory: Path, started: float | None = None
) -> StateLockedError:
    fields = dict(_LOCK_FIELD.findall(lock.detail))
    lock_id = fields.get("ID", "unknown")
    who = fields.get("Who", "another process")
    since = fields.get("Created", "an unknown time")
    if started is not None and _taken_by_this_command(who, since, started):
        # Seen against the AWS emulator (TF_LOG): the lock's conditional PutItem got no
        # answer, the AWS SDK sent it again, and the retry found the item the first
        # attempt had stored. DynamoDB behaves the same when an answer is lost.
        return StateLockedError(
            f"the state lock (lock id {lock_id}, {who}, {since}) was taken by this very "
            f"{Path(argv[0]).name} {argv[1]}: a lock request whose answer was lost was sent "
            "again and found the lock its first attempt had stored",
            command=argv,
            exit_code=code,
            hint=(
                "unless another kfstack run on this host started at the same moment, "
                f"release it with `terraform -chdir={directory} force-unlock {lock_id}` and "
                "run the command again"
            ),
        )
    return StateLockedError(
        f"another kfstack run holds the state lock (lock id {lock_id}, held by {who} "
        f"since {since}, operation {fields.get('Operation', 'unknown')})",
        command=argv,
        exit_code=code,
        hint=(
            "wait for the other run to finish and try again; if that run died, release the "
            f"lock with `terraform -chdir={directory} force-unlock {lock_id}`"
        ),
    )


_CREATED = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d)(\.\d+)? \+0000 UTC$")


def _taken_by_this_command(who: str, created: str, started: float) -> bool:
    """Whether terraform's lock info says this user on this host took the lock after
    `started` (this command's start, epoch seconds); terraform writes `Who` as
    user@hostname and `Created` in UTC."""
    match = _CREATED.match(created.strip())
    # Go's user.Current() reads the password database, not $USER.
    if match is None or who != f"{pwd.getpwuid(os.getuid()).pw_name}@{socket.gethostname()}":
        return False
    stamp = _dt.datetime.strptime(match.group(1), "%Y-%m-%d %H:%M:%S")
    seconds = stamp.replace(tzinfo=_dt.UTC).timestamp() + float(match.group(2) or 0)
    return seconds >= started


def _file_digest(path: Path) -> str | None:
    try:
        return "sha256:" + hashlib.sha256(path.read_bytes()).hexdigest()
    except FileNotFoundError:
        return None


def _strip_boxes(text: str) -> str:
    # Terraform frames human diagnostics in "│ " boxes; keep the words.
    lines = [re.sub(r"^[╷│╵]\s?", "", line) for line in (text or "").splitlines()]
    return "\n".join(line for line in lines if line.strip())


def _tail(text: str, lines: int) -> str:
    return "\n".join((text or "").splitlines()[-lines:])
