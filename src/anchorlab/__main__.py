"""``python -m anchorlab`` runs the command line."""

from anchorlab.cli.main import main

main()
