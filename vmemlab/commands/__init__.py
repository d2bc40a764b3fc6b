"""One module per ``vmemlab`` subcommand: ``add_arguments(parser)`` and ``main(args)``."""
