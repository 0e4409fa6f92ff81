"""The ``anchorlab`` command line."""
