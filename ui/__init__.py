"""The web UI: a FastAPI app with a JSON API and server-rendered pages (``partita ui``).

Nothing is imported here, so that ``partita.ui`` can be named without the ``ui`` extra
installed; :func:`partita.ui.app.create_app` builds the app.
"""
