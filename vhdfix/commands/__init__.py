"""The ``vhdfix`` subcommands, one module each; :mod:`vhdfix.cli` imports only the one that runs."""
