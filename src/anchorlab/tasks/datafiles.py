"""Where the real data sets live, and the error for a data file that cannot be used.

anchorlab never downloads data. The data directory is, in order of precedence: the path the
caller passes (the CLI's ``--data``), the ``ANCHORLAB_DATA`` environment variable, then
``<repository>/../shared/data`` next to a source checkout. Each data set is a sub-directory
(``scan``, ``cogs``).
"""

from __future__ import annotations

import os
from pathlib import Path

DATA_ENV = "ANCHORLAB_DATA"


class DataFileError(ValueError):
    """A data file that is missing or malformed; the message names the file and the fault."""


def repository_data_dir() -> Path:
    """``<repository>/../shared/data`` for a source checkout (``src/anchorlab/tasks/..``)."""
    return Path(__file__).resolve().parents[3].parent / "shared" / "data"


def data_dir(override: str | os.PathLike | None = None) -> Path:
    """The data directory: ``override``, else ``$ANCHORLAB_DATA``, else the checkout default.

    The directory is not checked here; loaders name the file they miss.
    """
    if override is not None:
        return Path(override)
    if os.environ.get(DATA_ENV):
        return Path(os.environ[DATA_ENV])
    return repository_data_dir()


def dataset_dir(name: str, override: str | os.PathLike | None = None) -> Path:
    """The directory of one data set (``scan``, ``cogs``) under ``data_dir(override)``.

    ``override`` may point at the data directory or directly at the data set's directory.
    """
    root = data_dir(override)
    if root.name == name and not (root / name).is_dir():
        return root
    return root / name


def read_lines(path: Path) -> list[str]:
    """The lines of a text data file (ASCII/UTF-8, LF); refuses a missing or binary file."""
    if not path.is_file():
        raise DataFileError(
            f"{path}: file not found; point --data (or ${DATA_ENV}) at the directory holding "
            "the official files"
        )
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as error:
        raise DataFileError(f"{path}: not a UTF-8 text file ({error.reason})") from None
    if not text.strip():
        raise DataFileError(f"{path}: file is empty")
    return text.splitlines()
