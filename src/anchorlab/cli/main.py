"""The ``anchorlab`` command line. Each command group lives in its own module and registers
itself on ``cli``; this module owns error handling and logging."""

from __future__ import annotations

import logging
import sqlite3
import sys

import click
from rich.console import Console
from rich.logging import RichHandler

from anchorlab import __version__

console = Console(stderr=True, soft_wrap=True)


class UserError(click.ClickException):
    """A problem the user can fix; printed as one line, exit status 2."""

    exit_code = 2


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="anchorlab")
@click.option("-q", "--quiet", is_flag=True, help="Only warnings and errors on stderr.")
@click.option("-v", "--verbose", is_flag=True, help="Debug-level log lines.")
def cli(quiet: bool, verbose: bool) -> None:
    """Study whether transformers reason or memorize, and how the initialization rate
    gamma decides it."""
    level = logging.WARNING if quiet else logging.DEBUG if verbose else logging.INFO
    logging.basicConfig(
        level=level,
        format="%(message)s",
        datefmt="%H:%M:%S",
        handlers=[RichHandler(console=console, show_path=False, markup=False)],
        force=True,
    )


def main(argv: list[str] | None = None) -> None:
    """Console-script entry: one-line errors with exit status 2, never a traceback for
    input the user can fix. Always ends with ``SystemExit``."""
    from anchorlab.cli import commands  # noqa: F401  (registers the commands)

    known_errors = _user_error_types()
    try:
        code = cli.main(args=argv, prog_name="anchorlab", standalone_mode=False)
    except click.exceptions.Abort:
        console.print("anchorlab: interrupted")
        sys.exit(130)
    except click.ClickException as error:
        console.print(f"anchorlab: error: {error.format_message()}", markup=False)
        sys.exit(2)
    except known_errors as error:
        console.print(f"anchorlab: error: {error}", markup=False)
        sys.exit(2)
    except KeyboardInterrupt:
        console.print("anchorlab: interrupted; rerun the same command to continue")
        sys.exit(130)
    except (ValueError, OSError, sqlite3.Error) as error:
        # Input no specific check caught (a value a library refused, a path that is a file):
        # still one line, and the traceback only when asked for.
        _log_traceback(argv)
        reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        console.print(f"anchorlab: error: {reason}", markup=False)
        sys.exit(2)
    except Exception as error:
        _log_traceback(argv)
        console.print(
            f"anchorlab: internal error: {type(error).__name__}: {error}; rerun with -v for the "
            "traceback and report it",
            markup=False,
        )
        sys.exit(1)
    sys.exit(code if isinstance(code, int) else 0)


def _log_traceback(argv: list[str] | None) -> None:
    words = sys.argv[1:] if argv is None else argv
    if "-v" in words or "--verbose" in words:
        console.print_exception()


def _user_error_types() -> tuple[type[BaseException], ...]:
    from anchorlab.config import ConfigError
    from anchorlab.init import InitRateError
    from anchorlab.sweeps.store import SweepError
    from anchorlab.tasks import TaskSpecError
    from anchorlab.train.run import RunDirectoryError
    from anchorlab.train.trainer import DeviceError

    return (
        ConfigError,
        DeviceError,
        InitRateError,
        RunDirectoryError,
        SweepError,
        TaskSpecError,
        FileNotFoundError,
        PermissionError,
    )
