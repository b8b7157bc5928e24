"""One module per `ponder` subcommand; see `ponder/cli.py` for the contract."""
