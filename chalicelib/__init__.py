"""Mewayz: all the Python code Chalice packages (app.py imports from here)."""

__version__ = "0.1.0"
