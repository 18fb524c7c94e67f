"""The command line (adapters-ui, python -m adapters_ui): main.py builds the parser from one module per command
family (compare, inspect, train, merge, serve, store, bundle); what they share lives in common.py."""
