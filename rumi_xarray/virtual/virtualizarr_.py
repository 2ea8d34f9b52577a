"""VirtualiZarr 2.8 parser: ``open_virtual_dataset(url, registry=..., parser=RumiParser())``.

VirtualiZarr 2.8 supports regular chunk grids only, so clipped edge frames are padded
by the ``rumi.openzl_grid`` codec and interleaved frames are put in array order by it.
This is exact through ``.vz.to_kerchunk(zarr_format=3)`` and ``.vz.to_icechunk``.
VirtualiZarr's Zarr v2 writer (its default) loses 0-d chunks and turns every fill
value into a CF ``_FillValue``; the parser warns where that changes what xarray's
default decoding reads.
"""

from __future__ import annotations

import json
import warnings
from typing import TYPE_CHECKING, Any

from ..decode import read_description
from ..errors import RumiVirtualWarning
from ..stores import ObstoreReader
from .file import file_dataset

if TYPE_CHECKING:
    from obspec_utils.registry import ObjectStoreRegistry
    from obstore.store import ObjectStore
    from virtualizarr.manifests import ManifestStore

    from .model import VirtualDataset


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

    def __call__(self, url: str, registry: ObjectStoreRegistry[ObjectStore]) -> ManifestStore:
        store, path = registry.resolve(url)
        reader = ObstoreReader(store, path)
        desc = read_description(reader, self.header)
        vds = file_dataset(desc, url, reader=reader, grid="regular")
        _warn_zarr_v2(vds)
        return manifest_store(vds, registry)


def _warn_zarr_v2(vds: VirtualDataset) -> None:
    """Warn when VirtualiZarr's Zarr v2 output of ``vds`` would not decode exactly.

    Its v2 writer stores the chunk of a 0-d array under the key ``"<name>/"`` (see
    ``virtual._coord_encoding``), and ``convert_v3_to_v2_metadata`` copies the v3
    fill value, required for every v3 array, into the v2 fill value, which xarray's
    zarr engine masks as ``_FillValue``; floats have NaN, which masks nothing.
    """
    scalars = [str(name) for name, coord in vds.coords.coords.items() if not coord.shape]
    masked = not vds.array.data_type.startswith(("float", "complex"))
    losses = []
    if scalars:
        losses.append(
            f"drops the chunks of the scalar coordinates {', '.join(scalars)}, which then "
            "read as their fill value, masked"
        )
    if masked:
        losses.append(
            f"turns {vds.name}'s fill value 0 into a CF _FillValue, so every 0 pixel reads "
            "as NaN and the array as float"
        )
    if losses:
        warnings.warn(
            "VirtualiZarr's Zarr v2 writer (.vz.to_kerchunk() with its default "
            f"zarr_format=2, and format='parquet') {' and '.join(losses)} under xarray's "
            "default decoding. Write .vz.to_kerchunk(..., zarr_format=3) or "
            ".vz.to_icechunk(...), which are exact, or open Zarr v2 output with "
            "mask_and_scale=False.",
            RumiVirtualWarning,
            stacklevel=3,
        )


def manifest_store(
    vds: VirtualDataset, registry: ObjectStoreRegistry[ObjectStore]
) -> ManifestStore:
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
    """A coordinate array whose chunks are held in memory.

    A 0-d coordinate gets no chunk: its fill value is its value
    (``virtual._coord_encoding``), which every writer keeps. VirtualiZarr's Zarr v2
    writer would store its chunk under the key ``"<name>/"``, which zarr never reads
    and kerchunk's Parquet writer rejects (``KeyError: '<name>/.zarray'``).
    """
    from virtualizarr.manifests import ChunkManifest, ManifestArray
    from zarr.core.metadata import ArrayV3Metadata

    meta = json.loads(keys[f"{name}/zarr.json"])
    prefix = f"{name}/c/"
    entries = {}
    for key, data in keys.items():
        if key.startswith(prefix):
            index = key[len(prefix) :].replace("/", ".")
            entries[index] = {"path": "", "offset": 0, "length": len(data), "data": data}
    shape = tuple(-(-n // c) for n, c in zip(meta["shape"], _chunk_shape(meta), strict=True))
    manifest = ChunkManifest(entries, shape=shape)
    return ManifestArray(metadata=ArrayV3Metadata.from_dict(meta), chunkmanifest=manifest)


def _chunk_shape(meta: dict[str, Any]) -> list[int]:
    shape: list[int] = meta["chunk_grid"]["configuration"]["chunk_shape"]
    return shape
