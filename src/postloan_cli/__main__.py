"""Allow ``python -m postloan_cli``."""

from postloan_cli.cli import main

if __name__ == "__main__":
    main()
