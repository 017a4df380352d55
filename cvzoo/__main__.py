"""Entry point for ``python -m cvzoo``."""

from cvzoo.cli import main

if __name__ == "__main__":
    main()
