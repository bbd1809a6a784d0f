"""Lint rules, one module each; :mod:`postloan_cli.linting.registry` lists them."""
