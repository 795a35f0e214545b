"""Test harness for the AWS stack: the emulator, and Terraform set up to reach a provider.

Shared by the integration tests and `scripts/bench_apply.py`. The emulator is the
product's own stand-in (`installer.sandbox.aws_emulator`), so the tests exercise the
same corrections the sandbox runs with.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

TF_MIRROR = Path("/opt/tf-plugins")
REPO = Path(__file__).resolve().parent.parent


def terraform_env(directory: Path) -> dict[str, str]:
    """TF_CLI_CONFIG_FILE and TF_PLUGIN_CACHE_DIR for this machine.

    With the local filesystem mirror (these machines cannot reach the registry) the CLI
    configuration installs from it; without one, the CLI configuration is empty and
    Terraform downloads from the registry as on any connected machine. The plugin cache
    is shared by every init of the session, so only the first one unpacks the provider.
    """
    directory.mkdir(parents=True, exist_ok=True)
    cli_config = directory / "terraformrc"
    if (TF_MIRROR / "registry.terraform.io").is_dir():
        cli_config.write_text(
            "provider_installation {\n"
            f'  filesystem_mirror {{\n    path = "{TF_MIRROR}"\n  }}\n'
            "}\n"
        )
    else:
        cli_config.write_text("")
    cache = directory / "plugin-cache"
    cache.mkdir(exist_ok=True)
    return {"TF_CLI_CONFIG_FILE": str(cli_config), "TF_PLUGIN_CACHE_DIR": str(cache)}


def clean_aws_env() -> dict[str, str | None]:
    """AWS variables a developer's shell may carry, unset so only the emulator is used."""
    names = [n for n in os.environ if n.startswith("AWS_")]
    return {name: None for name in names}


@contextmanager
def emulator_session(tf_dir: Path, region: str, **extra_env: str) -> Iterator[object]:
    """The AWS emulator from an empty account, with this process's environment pointed at
    it (and only at it) and Terraform set up; reset and closed afterwards."""
    import pytest

    from installer.sandbox.aws_emulator import AwsEmulator

    emu = AwsEmulator()
    emu.start()
    emu.reset()  # moto's state is process-wide; start from an empty account
    env = {**clean_aws_env(), **emu.env(region), **terraform_env(tf_dir), **extra_env}
    with pytest.MonkeyPatch.context() as mp:
        for name, value in env.items():
            if value is None:
                mp.delenv(name, raising=False)
            else:
                mp.setenv(name, value)
        try:
            yield emu
        finally:
            emu.reset()
            emu.close()
