"""``python -m byom_sdk.cli`` runs the ``byom`` command."""

from . import run

run()
