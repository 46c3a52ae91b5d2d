"""The `accord` command line: thin commands that parse, call the library and render."""

from accord.cli.app import app, main

__all__ = ["app", "main"]
