"""The rendered platform tree: the contract between `render` and the install engine.

    platform/
    ├── index.yaml                 components in install order, with dependencies
    ├── <NNN>-<component>/
    │   ├── kustomization.yaml     the generated overlay (reviewable source)
    │   ├── ...                    patches, generated resources
    │   ├── manifests.yaml         every object, rendered and validated, in kustomize's order
    │   └── secrets.yaml           Secrets by name and where each value comes from
    └── (lock file beside platform/, written by render)

Each object in `manifests.yaml` is the text kustomize printed for it, or, when
post-render changed it (a mirrored image, a pull secret), its new content dumped with
sorted keys. `manifests.yaml` never holds a secret value and may hold pending values,
written as `((kfstack:infra.<field>))`, that only the infrastructure's outputs can fill.
The engine reads a component through `PlatformTree.objects()`, which fills pending values
from `InfraOutputs` and turns `secrets.yaml` into Secret objects from the secret store.

secrets.yaml is a list of:

    - name: dex-oidc-client
      namespace: auth
      type: Opaque                           # default Opaque
      data:                                  # key -> source, one of:
        OKTA_CLIENT_SECRET: {env: OKTA_SECRET}           # env var at apply time
        GOOGLE_CLIENT_SECRET: {file: keys/google}        # file at apply time, as in the spec
                                                         # (relative: from the spec's folder)
        password: {generated: admin-password}            # generated, kept in workdir
        hash: {generated: admin-password, transform: bcrypt}
        user: {value: root}                      # a non-secret literal upstream keeps
                                                 # in a Secret (user names, empty values)

Entries may also carry `labels` and `annotations` (service-account token Secrets need
theirs). `value` sources, `annotations` and the libyaml dumper were added by the
platform renderer (issue #5); readers that ignore them keep working.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from installer.errors import UserError
from installer.platform import documents
from installer.secrets import SecretStore
from installer.spec.model import SecretRef

INDEX = "index.yaml"
MANIFESTS = "manifests.yaml"
SECRETS = "secrets.yaml"
PENDING = re.compile(r"\(\(kfstack:infra\.([a-z_][a-z0-9_]*)\)\)")


@dataclass
class Component:
    name: str
    path: str
    depends_on: list[str] = field(default_factory=list)
    digest: str = ""
    pending: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "name": self.name,
            "path": self.path,
            "depends_on": list(self.depends_on),
            "digest": self.digest,
        }
        if self.pending:
            data["pending"] = list(self.pending)
        return data


@dataclass
class PlatformTree:
    root: Path
    platform: str
    kubeflow_version: str
    components: list[Component]

    @classmethod
    def open(cls, root: Path) -> PlatformTree:
        """Read `root/index.yaml`.

        Raises:
            UserError: no index (the tree was not rendered) or it is malformed.
        """
        index = Path(root) / INDEX
        if not index.exists():
            raise UserError(
                f"{root} is not a rendered platform tree (no {INDEX})",
                hint="run `kfstack render -c SPEC --out DIR` first",
            )
        data = yaml.safe_load(index.read_text()) or {}
        try:
            comps = [Component(**c) for c in data["components"]]
            return cls(Path(root), data["platform"], str(data["kubeflow_version"]), comps)
        except (KeyError, TypeError) as exc:
            raise UserError(
                f"{index} is malformed ({exc})", hint="render the tree again with `kfstack render`"
            ) from None

    def write_index(self) -> Path:
        data = {
            "apiVersion": "kfstack.dev/v1",
            "kind": "PlatformIndex",
            "platform": self.platform,
            "kubeflow_version": self.kubeflow_version,
            "components": [c.to_dict() for c in self.components],
        }
        path = self.root / INDEX
        path.write_text(yaml.safe_dump(data, sort_keys=False))
        return path

    def component(self, name: str) -> Component:
        for comp in self.components:
            if comp.name == name:
                return comp
        raise KeyError(name)

    def raw_objects(self, name: str) -> list[dict[str, Any]]:
        """The component's rendered objects as written (pending values unfilled)."""
        path = self.root / self.component(name).path / MANIFESTS
        # A full platform is ~700 objects with some huge CRDs: `documents` reads each
        # with yaml-rs where that agrees with PyYAML (~5x libyaml), the way render does.
        texts = documents.split(path.read_text())
        return [doc for doc in (documents.parse(text) for text in texts) if doc]

    def secret_specs(self, name: str) -> list[dict[str, Any]]:
        path = self.root / self.component(name).path / SECRETS
        if not path.exists():
            return []
        return yaml.safe_load(path.read_text()) or []

    def objects(
        self, name: str, *, infra: dict[str, Any] | None = None, store: SecretStore | None = None
    ) -> list[dict[str, Any]]:
        """The objects to apply for component `name`: pending values filled from
        `infra` (InfraOutputs as a dict) and Secrets built from `store`.

        Raises:
            UserError: a pending value is still unknown, or a referenced secret is missing.
        """
        objs = [_fill(obj, infra or {}, name) for obj in self.raw_objects(name)]
        specs = self.secret_specs(name)
        if specs:
            if store is None:
                raise UserError(f"component {name} needs secrets but no secret store was given")
            objs.extend(build_secret(s, store, name) for s in specs)
        return objs


def digest_text(text: str) -> str:
    return "sha256:" + hashlib.sha256(text.encode("utf-8")).hexdigest()


_Dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


def dump_objects(objects: list[dict[str, Any]]) -> str:
    """Deterministic multi-document YAML for manifests.yaml (libyaml when available: a full
    release is ~10 MB of YAML, which the pure-Python emitter takes seconds over)."""
    return "".join(
        "---\n" + yaml.dump(o, Dumper=_Dumper, sort_keys=True, width=1000) for o in objects
    )


def _fill(value: Any, infra: dict[str, Any], component: str) -> Any:
    if isinstance(value, str):

        def repl(match: re.Match[str]) -> str:
            key = match.group(1)
            got = infra.get(key)
            if got in (None, ""):
                raise UserError(
                    f"component {component}: infrastructure output {key!r} is still pending",
                    hint="apply the infrastructure first (`kfstack apply --only infra`)",
                )
            return str(got)

        return PENDING.sub(repl, value)
    if isinstance(value, dict):
        return {k: _fill(v, infra, component) for k, v in value.items()}
    if isinstance(value, list):
        return [_fill(v, infra, component) for v in value]
    return value


def pending_fields(objects: list[dict[str, Any]]) -> list[str]:
    """Every infrastructure output the objects wait for, sorted."""
    found: set[str] = set()

    def walk(value: Any) -> None:
        if isinstance(value, str):
            found.update(PENDING.findall(value))
        elif isinstance(value, dict):
            for item in value.values():
                walk(item)
        elif isinstance(value, list):
            for item in value:
                walk(item)

    for obj in objects:
        walk(obj)
    return sorted(found)


def build_secret(spec: dict[str, Any], store: SecretStore, component: str) -> dict[str, Any]:
    """A Secret object from one secrets.yaml entry."""
    import base64

    data = {}
    for key, source in sorted((spec.get("data") or {}).items()):
        where = f"component {component}, Secret {spec.get('namespace')}/{spec['name']}, key {key}"
        if "generated" in source:
            value = store.generated(source["generated"], length=int(source.get("length", 32)))
            if source.get("transform") == "bcrypt":
                import bcrypt

                salt_source = store.generated(f"{source['generated']}-salt", length=22)
                value = _bcrypt_stable(bcrypt, value, salt_source)
        elif "value" in source:
            value = str(source["value"])
        elif "env" in source or "file" in source:
            ref = SecretRef(env=source.get("env"), file=source.get("file"))
            value = store.resolve(ref, field=where)
        else:
            raise UserError(f"{where}: unknown secret source {source!r}")
        data[key] = base64.b64encode(value.encode()).decode()
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {
            "name": spec["name"],
            "namespace": spec.get("namespace"),
            **({"labels": spec["labels"]} if spec.get("labels") else {}),
            **({"annotations": spec["annotations"]} if spec.get("annotations") else {}),
        },
        "type": spec.get("type", "Opaque"),
        "data": data,
    }


def _bcrypt_stable(bcrypt: Any, password: str, salt_chars: str) -> str:
    # A stable salt (itself a generated secret) keeps the hash identical across runs, so
    # re-applying the Secret is a no-op instead of a change on every run.
    alphabet = "./ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
    salt22 = "".join(alphabet[ord(c) % 64] for c in salt_chars[:22])
    # bcrypt's last salt character carries only 2 significant bits; keep it canonical.
    salt22 = salt22[:21] + alphabet[(alphabet.index(salt22[21]) // 16) * 16]
    salt = f"$2b$10${salt22}".encode()
    return bcrypt.hashpw(password.encode(), salt).decode()
