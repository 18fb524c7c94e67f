"""``python -m adapters_ui`` runs the CLI."""

from adapters_ui.cli.main import main

raise SystemExit(main())
