"""`python -m accord.cli`."""

from accord.cli.app import main

main()
