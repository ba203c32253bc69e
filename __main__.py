"""``python -m partita``: the ``partita`` command."""

from partita.cli.app import main

if __name__ == "__main__":
    main()
