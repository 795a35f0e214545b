"""Secret values: generated ones kept in the work directory, referenced ones resolved.

Generated values (the static admin's password, oauth2-proxy's cookie secret, ...) are
created once, stored as `<workdir>/secrets/<id>` (0600, directory 0700) and reused on
every later run. Referenced values (`SecretRef`: env var or file) are read at apply
time; a relative `file:` is read from the spec's folder (installer.spec.paths), which is
why a store that resolves references is made with the spec. Every value is registered
with `installer.redact` the moment it is read, so it is masked in logs, console output
and JSON results.
"""

from __future__ import annotations

import os
import re
import secrets as _random
import string
from pathlib import Path

from pydantic import BaseModel

from installer import redact
from installer.errors import UserError
from installer.spec import paths as spec_paths
from installer.spec.model import SecretRef, Spec
from installer.workdir import write_private

_ID = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")
_ALPHABET = string.ascii_letters + string.digits


class SecretStore:
    def __init__(self, directory: Path, *, spec: Spec | None = None) -> None:
        self.directory = Path(directory)
        # References are the spec's (directly, or copied into the platform tree as
        # written): relative files are read from its folder, and a missing one is
        # reported under the spec field that names it. None: the current directory.
        self.base = spec.base_dir if spec is not None else None
        self._fields = {
            ref.describe(): name for name, ref in reversed(spec_refs(spec) if spec else [])
        }

    def path(self, secret_id: str) -> Path:
        if not _ID.fullmatch(secret_id):
            raise ValueError(f"invalid secret id {secret_id!r}")
        return self.directory / secret_id

    def generated(self, secret_id: str, *, length: int = 32) -> str:
        """The value of generated secret `secret_id`, created on first use."""
        path = self.path(secret_id)
        if path.exists():
            value = path.read_text(encoding="utf-8").strip()
        else:
            value = "".join(_random.choice(_ALPHABET) for _ in range(length))
            self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
            os.chmod(self.directory, 0o700)
            write_private(path, value + "\n")
        redact.register(value)
        return value

    def known_values(self) -> list[str]:
        """Every generated value kept in the store (what a commit must never contain)."""
        if not self.directory.is_dir():
            return []
        values = []
        for path in sorted(self.directory.iterdir()):
            if path.is_file() and _ID.fullmatch(path.name):
                value = path.read_text(encoding="utf-8").strip()
                if value:
                    redact.register(value)
                    values.append(value)
        return values

    def exists(self, secret_id: str) -> bool:
        return self.path(secret_id).exists()

    def resolve(self, ref: SecretRef, *, field: str) -> str:
        """Read a referenced value. `field` names where it is needed, for error messages
        (prefixed by the spec field that holds the reference, when they differ).

        Raises:
            UserError: the variable is unset or the file missing, unreadable or empty.
        """
        spec_field = self._fields.get(ref.describe())
        if spec_field and spec_field != field:
            field = f"{spec_field} ({field})"
        if ref.env is not None:
            value = os.environ.get(ref.env)
            if not value:
                raise UserError(
                    f"{field}: environment variable {ref.env} is not set",
                    hint=f"export {ref.env}=... before running kfstack",
                )
        else:
            assert ref.file is not None  # SecretRef holds exactly one of env, file
            path = spec_paths.resolve(ref.file, self.base)
            try:
                value = path.read_text(encoding="utf-8").strip()
            except FileNotFoundError:
                raise spec_paths.not_found(
                    field, ref.file, self.base, what="secret file"
                ) from None
            except OSError as exc:
                raise UserError(
                    f"{field}: cannot read secret file {path} ({exc.strerror})",
                    hint="create the file or fix the path in the spec",
                ) from None
            if not value:
                raise UserError(f"{field}: secret file {path} is empty")
        redact.register(value)
        return value

    def peek(self, ref: SecretRef) -> str | None:
        """A referenced value if it can be read now, else None (never raises)."""
        if ref.env is not None:
            return os.environ.get(ref.env) or None
        assert ref.file is not None
        try:
            return spec_paths.resolve(ref.file, self.base).read_text(encoding="utf-8").strip()
        except OSError:
            return None


def spec_refs(spec: Spec) -> list[tuple[str, SecretRef]]:
    """Every secret reference in the spec, with its field path, in field order."""
    found: list[tuple[str, SecretRef]] = []

    def walk(node: object, path: str) -> None:
        if isinstance(node, SecretRef):
            found.append((path, node))
        elif isinstance(node, BaseModel):
            for name in type(node).model_fields:
                walk(getattr(node, name), f"{path}.{name}" if path else name)
        elif isinstance(node, list | tuple):
            for index, item in enumerate(node):
                walk(item, f"{path}[{index}]")

    walk(spec, "")
    return found
