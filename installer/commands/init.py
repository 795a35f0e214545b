"""`kfstack init`: write a new spec from flags and, unless `--non-interactive`, questions.

Every question has a flag; a flag that is given is never asked. Prompts go to stderr so
`--output json` keeps stdout machine-readable. The spec is validated before anything is
written (`installer.spec.author.write`), so a bad answer leaves no file behind.
"""

from __future__ import annotations

from pathlib import Path

import click

from installer import catalog as _catalog
from installer.commands import common
from installer.console import Run
from installer.errors import UserError
from installer.spec import author
from installer.spec import model as m

# Per target: (answer attribute, flag, question). Each is required in --non-interactive.
_REQUIRED = {
    "aws": [("region", "--region", "AWS region")],
    "gcp": [("project", "--project", "GCP project id"), ("region", "--region", "GCP region")],
    "azure": [
        ("subscription_id", "--subscription", "Azure subscription id"),
        ("region", "--region", "Azure location"),
    ],
    "baremetal": [],
    "existing": [],
}


class _Asker:
    """Takes a flag's value when given; otherwise prompts, or fails in non-interactive mode."""

    def __init__(self, interactive: bool) -> None:
        self.interactive = interactive

    def value(self, given, question: str, *, flag: str, default=None, required=False, **kw):
        if given is not None:
            return given
        if not self.interactive:
            if required:
                raise UserError(
                    f"{flag} is required with --non-interactive ({question})",
                    hint=f"pass {flag}, or drop --non-interactive to be asked",
                )
            return default
        # An optional question accepts an empty answer; click re-asks when default is None.
        shown = default if default is not None or required else ""
        return click.prompt(question, default=shown, err=True, show_default=bool(shown), **kw)

    def confirm(self, given: bool | None, question: str, *, default: bool) -> bool:
        if given is not None:
            return given
        if not self.interactive:
            return default
        return click.confirm(question, default=default, err=True)

    def items(self, given: tuple[str, ...], question: str, default: str = "") -> list[str]:
        if given:
            return [item for text in given for item in author.split_list(text)]
        if not self.interactive:
            return author.split_list(default)
        text = click.prompt(question, default=default, err=True, show_default=bool(default))
        return author.split_list(text)


@click.command("init")
@click.option("--target", type=click.Choice(m.TARGETS), help="Where the platform runs.")
@click.option("--name", help="Platform name (a DNS label).")
@click.option("--environment", help="Environment name, e.g. dev or prod [default: dev].")
@click.option("--region", "--location", "region", help="Cloud region (Azure: location).")
@click.option("--project", help="GCP project id.")
@click.option("--subscription", help="Azure subscription id.")
@click.option(
    "--host",
    "hosts",
    multiple=True,
    help="Bare-metal host NAME=ADDRESS[:server|agent][:GPUxN]; repeat per host.",
)
@click.option("--ssh-user", help="SSH user for bare-metal hosts [default: root].")
@click.option("--ssh-key", help="SSH private key for bare-metal hosts.")
@click.option("--nfs", help="Bare metal RWX: NFS export SERVER:/PATH.")
@click.option("--kubeconfig", help="Existing cluster: kubeconfig path.")
@click.option("--context", "kube_context", help="Existing cluster: kubeconfig context.")
@click.option("--rwx-class", help="Existing cluster: its ReadWriteMany StorageClass.")
@click.option(
    "--kubernetes-version",
    help="Minor version, e.g. 1.35 [default: the newest the target supports in standard support,"
    f" at least {m.DEFAULT_KUBERNETES_VERSION}].",
)
@click.option(
    "--gpu",
    "gpus",
    multiple=True,
    help="GPU pool MODEL[:COUNT][:spot][:MIN-MAX], e.g. L4:4:spot:0-3; repeat per pool.",
)
@click.option("--no-gpu", is_flag=True, help="No GPU pools (skips the question).")
@click.option("--rwx/--no-rwx", default=None, help="Provide a ReadWriteMany StorageClass.")
@click.option("--kubeflow-version", type=click.Choice(m.KUBEFLOW_VERSIONS))
@click.option("--components", help="Comma-separated Kubeflow components to enable.")
@click.option("--team", "teams", multiple=True, help="Team NAME:OWNER_EMAIL; repeat per team.")
@click.option("--no-teams", is_flag=True, help="No teams (skips the question).")
@click.option("--admin-email", help="Static admin's e-mail address.")
@click.option("--domain", help="Host name of the Kubeflow dashboard.")
@click.option("--non-interactive", is_flag=True, help="Never prompt; for CI.")
@click.option("--force", is_flag=True, help="Overwrite an existing spec file.")
@common.spec_option
@common.output_option
@common.debug_option
@common.kfstack_command("init")
def command(run: Run, config: str, output: str, force: bool, **flags) -> int:
    """Write a new kfstack.yaml from answers (flags, or questions on the terminal).

    \b
    Examples:
      kfstack init
      kfstack init --non-interactive --target aws --name ml --region us-west-2 \\
                   --gpu A10G:1 --gpu L4:4:spot
    """
    path = Path(config)
    if path.exists() and not force:
        # Checked before the questions so nobody answers them for nothing.
        raise UserError(f"{path} already exists", hint="pass --force to overwrite it")
    answers = _collect(_Asker(not flags["non_interactive"]), flags)
    text, warnings = author.write(path, answers, force=force)
    for warning in warnings:
        run.reporter.warn(warning.render())
    run.reporter.ok(f"wrote {path} ({answers.target}, {answers.name}-{answers.environment})")
    if output == "json":
        run.emit_json(
            {
                "written": str(path),
                "target": answers.target,
                "warnings": [w.render() for w in warnings],
                "text": text,
            }
        )
    elif answers.target == "baremetal":
        # The spec is valid once the hosts' keys are pinned (host_key_checking: strict).
        run.echo(
            f"✓ wrote {path}; next: kfstack hostkeys -c {path} (compare the fingerprints with "
            f"each machine's console), then kfstack hostkeys -c {path} --write"
        )
    else:
        run.echo(f"✓ wrote {path}; next: kfstack validate -c {path} && kfstack doctor -c {path}")
    return 0


def _collect(ask: _Asker, flags: dict) -> author.Answers:
    """Every answer, in the order a person thinks about them: where, what, who.

    Raises:
        UserError: a required answer is missing (non-interactive) or malformed.
    """
    target = ask.value(
        flags["target"],
        "Target",
        flag="--target",
        required=True,
        default="aws",
        type=click.Choice(m.TARGETS),
    )
    _refuse_foreign_flags(target, flags)
    answers = author.Answers(
        target=target,
        name=ask.value(flags["name"], "Platform name", flag="--name", required=True),
        environment=ask.value(
            flags["environment"], "Environment", flag="--environment", default="dev"
        ),
    )
    _collect_target(ask, flags, answers)
    _collect_cluster(ask, flags, answers)
    _collect_kubeflow(ask, flags, answers)
    return answers


def _collect_target(ask: _Asker, flags: dict, answers: author.Answers) -> None:
    target = answers.target
    for attr, flag, question in _REQUIRED[target]:
        default = _default_region(target) if attr == "region" else None
        given = flags["subscription" if attr == "subscription_id" else attr]
        value = ask.value(given, question, flag=flag, default=default, required=True)
        setattr(answers, attr, value)
    if target == "baremetal":
        hosts = ask.items(
            flags["hosts"], "Hosts (NAME=ADDRESS[:server|agent][:GPUxN], comma-separated)"
        )
        if not hosts:
            raise UserError(
                "bare metal needs at least one host",
                hint="pass --host NAME=ADDRESS[:server|agent][:GPUxN] once per machine",
            )
        answers.hosts = [author.parse_host(h) for h in hosts]
        answers.ssh_user = ask.value(
            flags["ssh_user"], "SSH user", flag="--ssh-user", default="root"
        )
        answers.ssh_key = ask.value(
            flags["ssh_key"], "SSH private key", flag="--ssh-key", default="~/.ssh/id_ed25519"
        )
    if target == "existing":
        answers.kubeconfig = ask.value(
            flags["kubeconfig"], "Kubeconfig", flag="--kubeconfig", default="~/.kube/config"
        )
        context = ask.value(
            flags["kube_context"], "Kubeconfig context (empty: current)", flag="--context"
        )
        answers.context = context or None


def _collect_cluster(ask: _Asker, flags: dict, answers: author.Answers) -> None:
    target = answers.target
    answers.kubernetes_version = ask.value(
        flags["kubernetes_version"],
        "Kubernetes version",
        flag="--kubernetes-version",
        default=author.default_kubernetes_version(target),
    )
    if target in _catalog.CLOUDS and not flags["no_gpu"]:
        wanted = ask.items(
            flags["gpus"],
            "GPU pools (MODEL[:COUNT][:spot][:MIN-MAX], comma-separated; empty: none)",
        )
        answers.gpu_pools = [author.parse_gpu(g) for g in wanted]
    answers.rwx = ask.confirm(
        flags["rwx"], "ReadWriteMany storage (shared volumes)?", default=False
    )
    if answers.rwx and target == "baremetal":
        answers.nfs = ask.value(
            flags["nfs"], "NFS export for RWX (SERVER:/PATH)", flag="--nfs", required=True
        )
    if answers.rwx and target == "existing":
        answers.rwx_class = ask.value(
            flags["rwx_class"], "The cluster's RWX StorageClass", flag="--rwx-class", required=True
        )


def _collect_kubeflow(ask: _Asker, flags: dict, answers: author.Answers) -> None:
    answers.kubeflow_version = ask.value(
        flags["kubeflow_version"],
        "Kubeflow version",
        flag="--kubeflow-version",
        default=m.DEFAULT_KUBEFLOW_VERSION,
        type=click.Choice(m.KUBEFLOW_VERSIONS),
    )
    answers.components = ask.items(
        (flags["components"],) if flags["components"] is not None else (),
        "Components (comma-separated)",
        default=",".join(m.Components().enabled()),
    )
    if not flags["no_teams"]:
        teams = ask.items(
            flags["teams"], "Teams (NAME:OWNER[;OWNER], comma-separated; empty: none)"
        )
        answers.teams = [author.parse_team(t) for t in teams]
    email = ask.value(
        flags["admin_email"], "Admin e-mail", flag="--admin-email", default=m.StaticAdmin().email
    )
    answers.admin_email = None if email == m.StaticAdmin().email else email
    answers.domain = ask.value(flags["domain"], "Domain (empty: none)", flag="--domain") or None


# Flags that only mean something for some targets (option name → flag, targets).
_TARGET_FLAGS = {
    "region": ("--region", ("aws", "gcp", "azure")),
    "project": ("--project", ("gcp",)),
    "subscription": ("--subscription", ("azure",)),
    "hosts": ("--host", ("baremetal",)),
    "ssh_user": ("--ssh-user", ("baremetal",)),
    "ssh_key": ("--ssh-key", ("baremetal",)),
    "nfs": ("--nfs", ("baremetal",)),
    "kubeconfig": ("--kubeconfig", ("existing",)),
    "kube_context": ("--context", ("existing",)),
    "rwx_class": ("--rwx-class", ("existing",)),
    "gpus": ("--gpu", ("aws", "gcp", "azure")),
}


def _refuse_foreign_flags(target: str, flags: dict) -> None:
    """A flag for another target is a mistake to point out, not a value to drop silently.

    Raises:
        UserError: names the flag and the targets it belongs to.
    """
    for option, (flag, targets) in _TARGET_FLAGS.items():
        if flags.get(option) and target not in targets:
            hint = (
                "on bare metal, give each host's GPUs in --host NAME=ADDRESS:agent:L4x2"
                if option == "gpus"
                else f"drop {flag}, or choose --target " + "/".join(targets)
            )
            raise UserError(f"{flag} does not apply to target {target}", hint=hint)


def _default_region(target: str) -> str | None:
    if target not in _catalog.CLOUDS:
        return None
    return next(iter(_catalog.load().cloud(target).regions))
