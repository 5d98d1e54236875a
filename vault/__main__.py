"""``python -m vault`` is the ``mailvault`` command."""

from vault.cli import main

main()
