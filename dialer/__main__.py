"""`python -m dialer` runs the command line."""

from dialer.cli import main

if __name__ == "__main__":
    main()
