"""``python -m partita``: the ``partita`` command."""

from partita.cli import main

if __name__ == "__main__":
    main()
