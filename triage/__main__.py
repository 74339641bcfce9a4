"""``python -m triage``: the ``triage`` command."""

from .cli import main

main()
