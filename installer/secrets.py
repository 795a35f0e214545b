"""Secret values: generated ones kept in the work directory, referenced ones resolved.

Generated values (the static admin's password, oauth2-proxy's cookie secret, ...) are
created once, stored as `<workdir>/secrets/<id>` (0600, directory 0700) and reused on
every later run. Referenced values (`SecretRef`: env var or file) are read at apply
time. Every value is registered with `installer.redact` the moment it is read, so it
is masked in logs, console output and JSON results.
"""

from __future__ import annotations

import os
import re
import secrets as _random
import string
from pathlib import Path

from installer import redact
from installer.errors import UserError
from installer.spec.model import SecretRef
from installer.workdir import write_private

_ID = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")
_ALPHABET = string.ascii_letters + string.digits


class SecretStore:
    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)

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
        """Read a referenced value. `field` names the spec field for error messages.

        Raises:
            UserError: the variable is unset or the file unreadable.
        """
        if ref.env is not None:
            value = os.environ.get(ref.env)
            if not value:
                raise UserError(
                    f"{field}: environment variable {ref.env} is not set",
                    hint=f"export {ref.env}=... before running kfstack",
                )
        else:
            path = Path(os.path.expanduser(str(ref.file)))
            try:
                value = path.read_text(encoding="utf-8").strip()
            except OSError as exc:
                raise UserError(
                    f"{field}: cannot read secret file {path} ({exc.strerror})",
                    hint="create the file or fix the path in the spec",
                ) from None
            if not value:
                raise UserError(f"{field}: secret file {path} is empty")
        redact.register(value)
        return value
