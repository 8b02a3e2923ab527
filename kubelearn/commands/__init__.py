"""The CLI's subcommands, one module per area; each offers ``register(subparsers, parents)``."""
