"""The command line (adapters-ui, python -m adapters_ui): one module per command family, shared flags in common."""
