"""Virtual Zarr views of rumi files: the one model (:mod:`.model`), references of one file, mosaics, catalogs, kerchunk/Icechunk outputs and the VirtualiZarr parser."""
