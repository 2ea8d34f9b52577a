"""Writing rumi files: ``to_rumi`` and what it takes from xarray objects, the file writer, the ``.rumi`` accessor."""
