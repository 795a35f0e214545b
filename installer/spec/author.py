"""Writing a new spec: the answers `kfstack init` collects, turned into `kfstack.yaml`.

The command asks the questions (flags or prompts); this module owns everything that does
not talk to a person: parsing the compact answer formats (`A10G:1:spot`, `ctrl=10.0.0.1`,
`team:owner@x`), building the spec mapping, validating it through `installer.spec` and
writing it atomically. The written file holds only what the person chose, not the
derived defaults, so it stays short and keeps following kfstack's defaults over time.

    answers (Answers) ──build()──> mapping ──render()──> YAML text
                                                        │ parse_spec(): SpecError → nothing written
                                                        └ write() → tmp file + rename

`add_host_keys` edits an existing spec instead (`kfstack hostkeys --write`): it inserts
`host_key:` lines into the bare-metal hosts and leaves every other byte as it was.
"""

from __future__ import annotations

import os
import re
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from installer.errors import SpecError, SpecProblem, UserError
from installer.spec import json_schema, parse_spec, rules
from installer.spec import model as m

# What a person may leave out of a GPU pool answer.
DEFAULT_GPU_MIN, DEFAULT_GPU_MAX = 0, 2


@dataclass
class GpuPoolAnswer:
    model: str
    count: int = 1
    spot: bool = False
    min: int = DEFAULT_GPU_MIN
    max: int = DEFAULT_GPU_MAX


@dataclass
class HostAnswer:
    name: str
    address: str
    role: str = "agent"
    gpu: str | None = None
    gpu_count: int = 1


@dataclass
class TeamAnswer:
    name: str
    owners: list[str]


@dataclass
class Answers:
    """Everything `kfstack init` asks. None means "not answered" (the model default applies)."""

    target: str
    name: str
    environment: str = "dev"
    region: str | None = None
    project: str | None = None
    subscription_id: str | None = None
    hosts: list[HostAnswer] = field(default_factory=list)
    ssh_user: str = "root"
    ssh_key: str = "~/.ssh/id_ed25519"
    nfs: str | None = None
    kubeconfig: str | None = None
    context: str | None = None
    rwx_class: str | None = None
    kubernetes_version: str | None = None
    gpu_pools: list[GpuPoolAnswer] = field(default_factory=list)
    rwx: bool = False
    kubeflow_version: str | None = None
    components: list[str] | None = None
    teams: list[TeamAnswer] = field(default_factory=list)
    admin_email: str | None = None
    domain: str | None = None


def default_kubernetes_version(target: str) -> str:
    """The version init proposes: kfstack's default, raised to where the target's
    standard support starts (GKE drops minors from its regular channels early)."""
    window = rules.kubernetes_support()["targets"][target]
    minor = int(m.DEFAULT_KUBERNETES_VERSION.split(".")[1])
    floor = window.get("standard_min") or window["min"]
    minor = max(minor, int(floor.split(".")[1]))
    return f"1.{min(minor, int(window['max'].split('.')[1]))}"


def parse_gpu(text: str) -> GpuPoolAnswer:
    """Parse `MODEL[:COUNT][:spot][:MIN-MAX]`, e.g. `L4:4:spot:0-3`.

    Raises:
        UserError: the text does not follow that form.
    """
    parts = [p.strip() for p in text.strip().split(":")]
    if not parts[0]:
        raise _bad("--gpu", text, "MODEL[:COUNT][:spot][:MIN-MAX], e.g. L4:4:spot:0-3")
    pool = GpuPoolAnswer(model=parts[0])
    for part in parts[1:]:
        if part.isdigit():
            pool.count = int(part)
        elif part.lower() in {"spot", "preemptible"}:
            pool.spot = True
        elif re.fullmatch(r"\d+-\d+", part):
            low, high = part.split("-")
            pool.min, pool.max = int(low), int(high)
        else:
            raise _bad("--gpu", text, "MODEL[:COUNT][:spot][:MIN-MAX], e.g. L4:4:spot:0-3")
    return pool


def parse_host(text: str) -> HostAnswer:
    """Parse `NAME=ADDRESS[:server|agent][:GPU[xCOUNT]]`, e.g. `gpu1=10.0.0.12:agent:A100x2`.

    Raises:
        UserError: the text does not follow that form.
    """
    form = "NAME=ADDRESS[:server|agent][:GPU[xCOUNT]], e.g. gpu1=10.0.0.12:agent:L4x2"
    name, sep, rest = text.strip().partition("=")
    if not sep or not name or not rest:
        raise _bad("--host", text, form)
    address, *extra = rest.split(":")
    host = HostAnswer(name=name.strip(), address=address.strip())
    for part in extra:
        if part in {"server", "agent"}:
            host.role = part
        elif (match := re.fullmatch(r"([A-Za-z0-9-]+?)(?:x(\d+))?", part)) and part:
            host.gpu = match.group(1)
            host.gpu_count = int(match.group(2) or 1)
        else:
            raise _bad("--host", text, form)
    return host


def parse_team(text: str) -> TeamAnswer:
    """Parse `NAME:OWNER[;OWNER...]`, e.g. `research:alice@example.com;bob@example.com`.

    Raises:
        UserError: the text does not follow that form.
    """
    name, sep, owners = text.strip().partition(":")
    listed = [o.strip() for o in owners.split(";") if o.strip()]
    if not sep or not name.strip() or not listed:
        raise _bad("--team", text, "NAME:OWNER_EMAIL[;OWNER_EMAIL], e.g. research:a@example.com")
    return TeamAnswer(name=name.strip(), owners=listed)


def split_list(text: str) -> list[str]:
    """`a, b,c` → [a, b, c]; the empty string is the empty list."""
    return [item.strip() for item in text.split(",") if item.strip()]


def _bad(flag: str, text: str, form: str) -> UserError:
    return UserError(f"{flag} {text!r} is not understood", hint=f"write it as {form}")


def build(answers: Answers) -> dict[str, Any]:
    """The spec mapping for `answers`: only what was chosen, in the order a reader expects."""
    data: dict[str, Any] = {
        "spec_version": m.SPEC_VERSION,
        "name": answers.name,
        "environment": answers.environment,
        "target": answers.target,
    }
    data[answers.target] = _target_block(answers)
    if answers.kubernetes_version:
        data["kubernetes"] = {"version": answers.kubernetes_version}
    if answers.target in ("aws", "gcp", "azure"):
        data["node_pools"] = _node_pools(answers)
    storage: dict[str, Any] = {"rwx": answers.rwx}
    data["storage"] = storage
    data["kubeflow"] = _kubeflow_block(answers)
    return data


def _target_block(answers: Answers) -> dict[str, Any]:
    if answers.target == "aws":
        return {"region": answers.region}
    if answers.target == "gcp":
        return {"project": answers.project, "region": answers.region}
    if answers.target == "azure":
        return {"subscription_id": answers.subscription_id, "location": answers.region}
    if answers.target == "baremetal":
        hosts = [_host(h, answers) for h in answers.hosts]
        # The control plane has to live somewhere: the first host unless one was chosen.
        if hosts and not any(h["role"] == "server" for h in hosts):
            hosts[0]["role"] = "server"
        block: dict[str, Any] = {"hosts": hosts}
        if answers.nfs:
            server, _, path = answers.nfs.partition(":")
            block["nfs"] = {"server": server, "path": path or "/"}
        return block
    block = {"kubeconfig": answers.kubeconfig or "~/.kube/config"}
    if answers.context:
        block["context"] = answers.context
    if answers.rwx_class:
        block["rwx_class"] = answers.rwx_class
    return block


def _host(host: HostAnswer, answers: Answers) -> dict[str, Any]:
    item: dict[str, Any] = {
        "name": host.name,
        "address": host.address,
        "user": answers.ssh_user,
        "ssh_key": answers.ssh_key,
        "role": host.role,
    }
    if host.gpu:
        item["gpu"] = host.gpu
        item["gpu_count"] = host.gpu_count
    return item


def _node_pools(answers: Answers) -> list[dict[str, Any]]:
    pools: list[dict[str, Any]] = [{"name": "system", "role": "system", "min": 2, "max": 3}]
    used: set[str] = {"system"}
    for pool in answers.gpu_pools:
        name = _gpu_pool_name(pool.model, used, aks=answers.target == "azure")
        used.add(name)
        item: dict[str, Any] = {
            "name": name,
            "gpu": {"model": pool.model, "count": pool.count},
            "min": pool.min,
            "max": pool.max,
        }
        if pool.spot:
            item["spot"] = True
        pools.append(item)
    return pools


def _gpu_pool_name(model: str, used: set[str], *, aks: bool) -> str:
    """A pool name for `model` not in `used`. AKS names Linux pools with 1-12 lower-case
    letters and digits (no hyphens); elsewhere a DNS label of up to 30 characters."""
    slug = model.lower()
    if aks:
        base, limit, sep = "gpu" + re.sub(r"[^a-z0-9]+", "", slug), 12, ""
    else:
        base, limit, sep = "gpu-" + re.sub(r"[^a-z0-9]+", "-", slug).strip("-"), 30, "-"
    name, suffix = base[:limit], 2
    while name in used:
        tail = f"{sep}{suffix}"
        name, suffix = base[: limit - len(tail)] + tail, suffix + 1
    return name


def _kubeflow_block(answers: Answers) -> dict[str, Any]:
    block: dict[str, Any] = {"version": answers.kubeflow_version or m.DEFAULT_KUBEFLOW_VERSION}
    if answers.components is not None:
        chosen = set(answers.components)
        defaults = m.Components()
        # Only departures from the defaults are written, so the file stays short.
        changed = {
            name: name in chosen
            for name in m.COMPONENTS
            if (name in chosen) != getattr(defaults, name)
        }
        unknown = sorted(chosen - set(m.COMPONENTS))
        for name in unknown:
            changed[name] = True  # left in so validation names the unknown component
        if changed:
            block["components"] = changed
    if answers.teams:
        block["teams"] = [{"name": t.name, "owners": t.owners} for t in answers.teams]
    if answers.admin_email:
        block["auth"] = {"admin": {"email": answers.admin_email}}
    if answers.domain:
        block["domain"] = answers.domain
    return block


def render(data: dict[str, Any], *, command: str = "kfstack init") -> str:
    """The file text: schema hint, a header comment, then the mapping as block YAML."""
    schema_id = json_schema()["$id"]
    header = (
        f"# yaml-language-server: $schema={schema_id}\n"
        f"# kfstack platform spec, written by `{command}`.\n"
        "# Check it with `kfstack validate`; every field is described in docs/spec-reference.md\n"
        "# and `kfstack schema` prints the JSON Schema for offline editors.\n"
    )
    body = yaml.safe_dump(data, sort_keys=False, default_flow_style=False, allow_unicode=True)
    return header + body


def write(path: Path, answers: Answers, *, force: bool = False) -> tuple[str, list[SpecProblem]]:
    """Validate the spec built from `answers` and write it to `path`.

    Returns the text written and the validation warnings (advice, not errors).

    Nothing is written unless the spec validates and `path` is free (or `force`).

    Raises:
        UserError: `path` exists and `force` is false, or it cannot be written.
        SpecError: the answers do not make a valid spec (names each field).
    """
    if path.exists() and not force:
        raise UserError(
            f"{path} already exists",
            hint="pass --force to overwrite it, or -c to write another file",
        )
    if path.is_dir():
        raise UserError(f"{path} is a directory", hint="give a file path with -c")
    text = render(build(answers))
    try:
        # Host keys come after the file exists: `kfstack hostkeys --write` reads them.
        loaded = parse_spec(text, source=str(path), require_host_keys=False)
    except SpecError as exc:
        exc.hint = f"nothing was written to {path}; change the answers named above and re-run"
        raise
    # mkstemp makes 0600; a spec holds no secrets and is meant to be shared.
    _replace(path, text, 0o644)
    return text, loaded.warnings


def _replace(path: Path, text: str, mode: int) -> None:
    """Write `text` to `path` atomically (a temporary file beside it, then a rename).

    Raises:
        UserError: the directory or the file cannot be written.
    """
    directory = path.parent if str(path.parent) else Path(".")
    try:
        directory.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".kfstack-spec-", dir=directory)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(text)
            os.chmod(tmp, mode)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    except OSError as exc:
        raise UserError(f"cannot write {path}: {exc.strerror or exc}") from None


def add_host_keys(path: Path, keys: dict[int, str]) -> str:
    """Give the bare-metal hosts at the indexes of `keys` (host index → key line) a
    `host_key:`, and write the spec back with nothing else changed: comments, order,
    quoting and flow style stay, and the file keeps its mode. Returns the new text.

    Each key goes after the host's last field (inside `{...}` for a flow mapping), at
    that mapping's indentation. The result must load as the same data plus exactly
    those keys, or nothing is written.

    Raises:
        UserError: the file cannot be read or written, or the hosts are written in a way
            this edit cannot follow (the hint gives the lines to add by hand).
    """
    try:
        text = path.read_text(encoding="utf-8")
        mode = path.stat().st_mode & 0o777
    except OSError as exc:
        raise UserError(f"cannot read {path}: {exc.strerror or exc}") from None
    by_hand = "; ".join(f"baremetal.hosts[{i}].host_key: {key}" for i, key in keys.items())
    refused = UserError(
        f"cannot add the host keys to {path} without rewriting it",
        hint=f"add them by hand: {by_hand}",
    )
    try:
        hosts = _mapping_value(_mapping_value(yaml.compose(text), "baremetal"), "hosts")
        edits = sorted(
            (_host_key_edit(text, hosts.value[index], key) for index, key in keys.items()),
            reverse=True,
        )
    except (yaml.YAMLError, AttributeError, IndexError, KeyError, TypeError):
        raise refused from None
    edited = text
    for position, insertion in edits:
        edited = edited[:position] + insertion + edited[position:]
    expected = yaml.safe_load(text)
    for index, key in keys.items():
        expected["baremetal"]["hosts"][index]["host_key"] = key
    try:
        same = yaml.safe_load(edited) == expected
    except yaml.YAMLError:
        same = False
    if not same:
        raise refused
    _replace(path, edited, mode)
    return edited


def _mapping_value(node: yaml.Node, key: str) -> yaml.Node:
    """The value node of `key` in mapping `node` (KeyError when absent)."""
    if not isinstance(node, yaml.MappingNode):
        raise TypeError(f"not a mapping: {node!r}")
    for key_node, value_node in node.value:
        if isinstance(key_node, yaml.ScalarNode) and key_node.value == key:
            return value_node
    raise KeyError(key)


def _host_key_edit(text: str, host: yaml.Node, key: str) -> tuple[int, str]:
    """Where to insert `host_key: key` into the host mapping `host`, and the text."""
    if not isinstance(host, yaml.MappingNode) or not host.value:
        raise TypeError("a host is not a non-empty mapping")
    if any(k.value == "host_key" for k, _ in host.value):
        raise KeyError("host_key")  # only missing keys are added
    last = host.value[-1][1]
    # The last scalar or flow collection under the host ends exactly where its text does
    # (a block collection's end mark is the start of whatever follows it).
    while isinstance(last, yaml.CollectionNode) and not last.flow_style and last.value:
        last = last.value[-1][1] if isinstance(last, yaml.MappingNode) else last.value[-1]
    position = last.end_mark.index
    if host.flow_style:
        return position, f", host_key: {key}"
    indent = " " * host.value[0][0].start_mark.column
    if text[position - 1 : position] == "\n":  # a block scalar keeps its line break
        return position, f"{indent}host_key: {key}\n"
    line_end = text.find("\n", position)
    line_end = len(text) if line_end < 0 else line_end
    if text[position:line_end].lstrip().startswith("#"):
        position = line_end  # after a comment that ends the last field's line
    return position, f"\n{indent}host_key: {key}"
