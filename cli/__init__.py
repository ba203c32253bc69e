"""The ``partita`` command: parse, call the Python API, render with rich. Nothing else."""

from partita.cli.app import app, main

__all__ = ["app", "main"]
