"""The ``partita`` command: parse, call the Python API, render with rich. Nothing else.

:mod:`~partita.cli.program` holds the Typer app and its root group; the commands live by
concern in ``build``, ``inspect``, ``manage`` and ``serve``, how they show things in
``render``.
"""

from partita.cli.program import app, main

__all__ = ["app", "main"]
