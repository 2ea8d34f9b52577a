"""VirtualiZarr 2.8 parser: ``open_virtual_dataset(url, registry=..., parser=RumiParser())``.

VirtualiZarr 2.8 supports regular chunk grids only, so clipped edge frames are padded
by the ``rumi.openzl_grid`` codec and interleaved frames are put in array order by it;
this is exact, and converts to Zarr v2 (``.vz.to_kerchunk(zarr_format=2)``) unchanged.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from ._io import ObstoreReader
from .read import read_description
from .references import file_dataset

if TYPE_CHECKING:
    from obspec_utils.registry import ObjectStoreRegistry
    from virtualizarr.manifests import ManifestStore

    from .virtual import VirtualDataset


class RumiParser:
    """Parse one rumi file into a VirtualiZarr ``ManifestStore``.

    Parameters
    ----------
    header
        The file's header blob (then the file's index is not read); only useful when
        the parser is called for a single URL.
    """

    def __init__(self, *, header: bytes | None = None) -> None:
        self.header = header

    def __call__(self, url: str, registry: ObjectStoreRegistry) -> ManifestStore:
        store, path = registry.resolve(url)
        reader = ObstoreReader(store, path)
        desc = read_description(reader, self.header)
        vds = file_dataset(desc, url, reader=reader, grid="regular")
        return manifest_store(vds, registry)


def manifest_store(vds: VirtualDataset, registry: ObjectStoreRegistry) -> ManifestStore:
    """A VirtualiZarr ``ManifestStore`` of a virtual dataset with a regular chunk grid."""
    from virtualizarr.manifests import ManifestGroup, ManifestStore

    keys = vds.metadata(3)
    group = json.loads(keys.pop("zarr.json"))
    names = {key.split("/", 1)[0] for key in keys}
    arrays = {name: _inline_array(name, keys) for name in names if name != vds.name}
    arrays[vds.name] = _frames_array(vds, json.loads(keys[f"{vds.name}/zarr.json"]))
    return ManifestStore(ManifestGroup(arrays, attributes=group["attributes"]), registry=registry)


def _frames_array(vds: VirtualDataset, meta: dict[str, Any]) -> Any:
    from virtualizarr.manifests import ChunkManifest, ManifestArray
    from zarr.core.metadata import ArrayV3Metadata

    array = vds.array  # missing chunks: URL "", offset and length 0
    manifest = ChunkManifest.from_arrays(
        paths=array.chunk_urls(), offsets=array.offsets, lengths=array.lengths
    )
    return ManifestArray(metadata=ArrayV3Metadata.from_dict(meta), chunkmanifest=manifest)


def _inline_array(name: str, keys: dict[str, bytes]) -> Any:
    """A coordinate array whose chunks are held in memory."""
    from virtualizarr.manifests import ChunkManifest, ManifestArray
    from zarr.core.metadata import ArrayV3Metadata

    meta = json.loads(keys[f"{name}/zarr.json"])
    prefix = f"{name}/c"
    entries = {}
    for key, data in keys.items():
        if key == prefix or key.startswith(prefix + "/"):
            index = key[len(prefix) + 1 :].replace("/", ".") or "0"
            entries[index] = {"path": "", "offset": 0, "length": len(data), "data": data}
    shape = tuple(-(-n // c) for n, c in zip(meta["shape"], _chunk_shape(meta), strict=True))
    manifest = ChunkManifest(entries, shape=shape)
    return ManifestArray(metadata=ArrayV3Metadata.from_dict(meta), chunkmanifest=manifest)


def _chunk_shape(meta: dict[str, Any]) -> list[int]:
    return meta["chunk_grid"]["configuration"]["chunk_shape"]
