"""``python -m skdce.cli``: the ``skdce`` command."""

from . import main

if __name__ == "__main__":
    main(prog_name="skdce")
