"""The Chromium tests (pytest -m browser) and their helpers (chromium.py)."""
