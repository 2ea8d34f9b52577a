"""The xarray side of reading: the ``engine="rumi"`` backend (:mod:`.entrypoint`) and ``open_stack`` (:mod:`.stack`)."""
