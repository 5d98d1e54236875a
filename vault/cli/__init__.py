"""The ``mailvault`` command."""

from vault.cli.app import app, main

__all__ = ["app", "main"]
