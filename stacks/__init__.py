"""Spec → Terraform: one module per target behind one interface (`stacks.base.Stack`).

`stacks.for_spec(spec)` returns the stack for the spec's target; nothing outside this
package switches on the target to build infrastructure.
"""

from __future__ import annotations

import importlib

from installer.spec.model import Spec
from stacks.base import InfraOutputs, Stack

__all__ = ["InfraOutputs", "Stack", "for_spec"]

_MODULES = {
    "aws": "stacks.aws",
    "gcp": "stacks.gcp",
    "azure": "stacks.azure",
    "baremetal": "stacks.baremetal",
    "existing": "stacks.existing",
}


def for_spec(spec: Spec) -> Stack:
    """The stack that provisions `spec.target`."""
    module = importlib.import_module(_MODULES[spec.target])
    return module.STACK_CLASS(spec)
