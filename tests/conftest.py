"""Fixtures the unit and the integration tests share."""

from pathlib import Path

import pytest

from anchorlab.tasks.datafiles import dataset_dir


def _official_dir(name: str) -> Path:
    path = dataset_dir(name)
    if not path.is_dir():
        pytest.skip(
            f"official {name} files not found at {path}: set ANCHORLAB_DATA to the directory "
            f"holding {name}/ to run this test"
        )
    return path


@pytest.fixture
def official_scan_dir() -> Path:
    """The directory of the official SCAN files; skips the test where it is absent."""
    return _official_dir("scan")


@pytest.fixture
def official_cogs_dir() -> Path:
    """The directory of the official COGS files; skips the test where it is absent."""
    return _official_dir("cogs")


@pytest.fixture(scope="session")
def analysis_numbers() -> frozenset[str]:
    """The names of the numbers every mechanism analysis of a two-layer model reports."""
    return frozenset(
        {
            "layer1_anchor_to_key",
            "layer1_last_to_anchors",
            "layer2_anchor_to_key",
            "layer2_last_to_anchors",
            "mirror_pair_ratio",
            "equal_target_cosine_gap",
            "value_single_anchor_cosine_gap",
            "wq1_groups",
            "wq1_mean_abs_cosine",
            "embedding_order",
            "embedding_effective_rank",
        }
    )
