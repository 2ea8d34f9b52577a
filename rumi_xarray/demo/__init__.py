"""The demo scene and its PNG quicklook (no plotting stack needed)."""
