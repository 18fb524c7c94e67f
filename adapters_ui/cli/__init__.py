"""The command line: main.py builds the parser from one module per command family (see main.py)."""
