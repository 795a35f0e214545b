"""What every command shares: `--output`, `--debug`, the log file, and the one place
where exceptions become messages and exit codes.
"""

from __future__ import annotations

import functools
import logging
import sys
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from installer import redact
from installer.console import LOG, Run
from installer.errors import KfstackError, UserError
from installer.spec import LoadedSpec, load_spec
from installer.workdir import Workdir, logs_dir_for

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


def output_option(fn: Callable) -> Callable:
    return click.option(
        "--output",
        "-o",
        type=click.Choice(["text", "json"]),
        default="text",
        show_default=True,
        help="json: a machine-readable result on stdout; logs on stderr.",
    )(fn)


def debug_option(fn: Callable) -> Callable:
    return click.option("--debug", is_flag=True, help="Show tracebacks and debug output.")(fn)


def spec_option(fn: Callable) -> Callable:
    return click.option(
        "-c",
        "--config",
        "config",
        default="kfstack.yaml",
        show_default=True,
        type=click.Path(dir_okay=False),
        help="The platform spec.",
    )(fn)


def workdir_option(fn: Callable) -> Callable:
    return click.option(
        "--workdir",
        type=click.Path(file_okay=False),
        default=None,
        help="Work directory [default: <spec dir>/.kfstack/<name>-<environment>].",
    )(fn)


def kfstack_command(name: str, *, spec_logs: bool = False) -> Callable:
    """Wrap a command body `fn(run, **options) -> int | None`.

    Opens the run's log file (beside the spec when `spec_logs`, else the user's log
    directory), maps exceptions to exit codes (UserError 2, KfstackError 1, interrupt
    130, anything unexpected 1 with the traceback in the log), and prints the log path.
    """

    def decorate(fn: Callable[..., int | None]) -> Callable[..., None]:
        @functools.wraps(fn)
        def wrapper(**options: Any) -> None:
            output = options.get("output", "text")
            debug = bool(options.get("debug")) or _group_debug()
            run = Run(name, output=output, debug=debug)
            log_dir = None
            if spec_logs and options.get("config"):
                log_dir = logs_dir_for(options["config"])
            try:
                run.open_log(log_dir)
            except OSError:
                run.open_log(None)
            code = EXIT_OK
            try:
                result = fn(run, **options)
                code = int(result or 0)
            except UserError as exc:
                LOG.debug("user error", exc_info=True)
                _fail(run, exc.render(), debug)
                code = exc.exit_code
            except KfstackError as exc:
                LOG.debug("operation failed", exc_info=True)
                _fail(run, exc.render(), debug)
                code = exc.exit_code
            except KeyboardInterrupt:
                LOG.warning("interrupted")
                _fail(run, "interrupted; re-run the same command to resume", False)
                code = 130
            except click.exceptions.Exit:
                raise
            except click.ClickException:
                raise
            except Exception as exc:  # the boundary: anything unexpected is our bug
                LOG.error("unexpected error\n%s", traceback.format_exc())
                if debug:
                    raise
                _fail(
                    run,
                    f"internal error: {type(exc).__name__}: {exc}\n"
                    f"  the traceback is in {run.log_path}; re-run with --debug to see it",
                    False,
                )
                code = EXIT_FAILED
            finally:
                if run.log_path is not None and code != EXIT_OK:
                    run.reporter.line(f"Log: {run.log_path}")
                run.close()
            sys.exit(code)

        return wrapper

    return decorate


def _group_debug() -> bool:
    ctx = click.get_current_context(silent=True)
    root = ctx.find_root() if ctx else None
    return bool(root and isinstance(root.obj, dict) and root.obj.get("debug"))


def _fail(run: Run, message: str, debug: bool) -> None:
    message = redact.redact(message)
    logging.getLogger("kfstack").error("Error: %s", message)
    sys.stderr.write(f"Error: {message}\n")
    sys.stderr.flush()
    if debug:
        traceback.print_exc(file=sys.stderr)


def load(
    run: Run, config: str, workdir: str | None = None, *, require_host_keys: bool = True
) -> tuple[LoadedSpec, Workdir]:
    """Load the spec and work out its work directory; warnings go to the reporter.

    Raises:
        SpecError: the spec is invalid.
    """
    loaded = load_spec(config, require_host_keys=require_host_keys)
    for warning in loaded.warnings:
        run.reporter.warn(warning.render())
    wd = Workdir.for_spec(loaded.spec, Path(config), workdir)
    LOG.debug("spec %s: target %s, workdir %s", config, loaded.spec.target, wd.root)
    return loaded, wd
