"""The ``rumi-xarray`` command line: :mod:`.main` builds the parser and runs it, one module per
subcommand, the shared options in :mod:`.options`."""
