"""Run the real ``anchorlab`` command line, in-process (fast) or as a subprocess."""

import os
import subprocess
import sys
from dataclasses import dataclass

import pytest

from anchorlab.cli.main import main


@dataclass
class Result:
    returncode: int
    stdout: str
    stderr: str


@pytest.fixture
def anchorlab_cli(capsys):
    """``anchorlab_cli(*args, check=True)`` runs the command line in this process."""

    def run(*args: str, check: bool = True) -> Result:
        capsys.readouterr()
        try:
            main(list(args))
        except SystemExit as exit_:
            code = exit_.code if isinstance(exit_.code, int) else 1
        captured = capsys.readouterr()
        result = Result(code, captured.out, captured.err)
        if check and code != 0:
            raise AssertionError(f"anchorlab {' '.join(args)} failed ({code}):\n{result.stderr}")
        return result

    return run


def run_subprocess(*args: str, timeout: float = 600) -> subprocess.CompletedProcess:
    """Run the installed console script ``anchorlab ARGS`` as a user would."""
    env = dict(os.environ, COLUMNS="200")
    return subprocess.run(
        [sys.executable, "-m", "anchorlab", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
    )
