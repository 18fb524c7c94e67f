"""``python -m adapters_ui`` runs the CLI."""

from .cli import main

raise SystemExit(main())
