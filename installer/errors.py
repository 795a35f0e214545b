"""The exceptions kfstack raises, and the exit code each one maps to.

Library code raises; only the CLI boundary (`installer.cli`) prints and exits.

    KfstackError                      exit 1: the operation failed
    ├── UserError                     exit 2: something a person can fix
    │   ├── SpecError                 the spec is invalid (carries field paths)
    │   ├── ToolMissingError          a required binary is absent or too old
    │   └── CredentialsError          cloud credentials are missing or unusable
    ├── ToolError                     an external command failed (command, exit code, stderr)
    └── Interrupted                   the user or a signal stopped the run (exit 130)
"""

from __future__ import annotations

from dataclasses import dataclass


class KfstackError(Exception):
    """Base class. `hint` is the next action for the person reading the message."""

    exit_code = 1

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def render(self) -> str:
        """The text printed after `Error: ` at the CLI boundary."""
        if self.hint:
            return f"{self.message}\n  → {self.hint}"
        return self.message


class UserError(KfstackError):
    """Something the person running kfstack caused and can fix (exit code 2)."""

    exit_code = 2


@dataclass(frozen=True)
class SpecProblem:
    """One problem in a spec: a dotted field path (`node_pools[1].gpu.model`) and what is wrong."""

    path: str
    message: str
    hint: str | None = None

    def render(self) -> str:
        text = f"{self.path}: {self.message}" if self.path else self.message
        return f"{text} ({self.hint})" if self.hint else text


class SpecError(UserError):
    """The spec file is unreadable or invalid; `problems` lists every offending field."""

    def __init__(self, source: str, problems: list[SpecProblem]) -> None:
        self.source = source
        self.problems = list(problems)
        lines = [f"{source} is not a valid kfstack spec:"]
        lines += [f"  - {p.render()}" for p in self.problems]
        super().__init__(
            "\n".join(lines), hint=f"fix the fields above, then `kfstack validate -c {source}`"
        )


class ToolMissingError(UserError):
    """A binary kfstack drives (terraform, kustomize, ssh ...) is missing or the wrong version."""

    def __init__(self, tool: str, message: str, *, hint: str | None = None) -> None:
        self.tool = tool
        super().__init__(f"{tool}: {message}", hint=hint)


class CredentialsError(UserError):
    """Cloud credentials are missing or rejected."""


class ToolError(KfstackError):
    """An external command failed; carries the command, its exit code and the tail of stderr."""

    def __init__(
        self,
        message: str,
        *,
        command: list[str] | None = None,
        exit_code: int | None = None,
        stderr_tail: str = "",
        hint: str | None = None,
    ) -> None:
        self.command = command or []
        self.returncode = exit_code
        self.stderr_tail = stderr_tail
        text = message
        if self.command:
            text += f"\n  command: {' '.join(self.command)}"
        if exit_code is not None:
            text += f"\n  exit code: {exit_code}"
        if stderr_tail.strip():
            tail = "\n    ".join(stderr_tail.strip().splitlines()[-15:])
            text += f"\n  stderr:\n    {tail}"
        super().__init__(text, hint=hint)


class Interrupted(KfstackError):
    """The run was stopped by the user or a signal; a re-run resumes."""

    exit_code = 130
