"""Write a :class:`~rumi_xarray.virtual.VirtualDataset`: kerchunk JSON or Parquet, Icechunk."""

from __future__ import annotations

import base64
import json
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

if TYPE_CHECKING:
    from .model import VirtualDataset, ZarrFormat

_METADATA_KEYS = ("zarr.json", ".zarray", ".zattrs", ".zgroup")


def to_kerchunk(vds: VirtualDataset, zarr_format: ZarrFormat = 3) -> dict[str, Any]:
    """kerchunk JSON version 1: metadata as text, coordinate chunks as base64, frames as ranges."""
    refs: dict[str, Any] = {}
    for key, value in vds.metadata(zarr_format).items():
        if key.rsplit("/", 1)[-1] in _METADATA_KEYS:
            refs[key] = value.decode()
        else:
            refs[key] = "base64:" + base64.b64encode(value).decode()
    refs.update(vds.chunk_refs(zarr_format))
    return {"version": 1, "refs": refs}


def write_references(
    refs: dict[str, Any],
    target: str,
    *,
    format: Literal["json", "parquet"] = "json",
    record_size: int = 100_000,
) -> None:
    """Write references as one JSON file or as kerchunk's Parquet directory (Zarr v2 only)."""
    if format == "json":
        import fsspec

        with fsspec.open(target, "w") as f:
            json.dump(refs, f, separators=(",", ":"))
        return
    if format != "parquet":
        raise ValueError(f"format must be 'json' or 'parquet', got {format!r}")
    if "zarr.json" in refs.get("refs", refs):
        raise ValueError(
            "kerchunk's Parquet references hold Zarr v2 only; build them with zarr_format=2"
        )
    from kerchunk.df import refs_to_dataframe

    refs_to_dataframe(refs, target, record_size=record_size)


def to_icechunk(vds: VirtualDataset, store: Any, *, group: str = "") -> None:
    """Write a virtual dataset into an Icechunk session store as virtual references.

    Metadata and coordinates are stored natively; each frame becomes a virtual chunk
    pointing at its file's byte range. The files' URL prefixes must be registered as
    virtual chunk containers of the repository. Commit the session afterwards.
    """
    from zarr.core.buffer import default_buffer_prototype
    from zarr.core.sync import sync

    prefix = f"{group.strip('/')}/" if group.strip("/") else ""
    buffer = default_buffer_prototype().buffer
    for key, value in vds.metadata(3).items():
        sync(store.set(prefix + key, buffer.from_bytes(value)))
    array = vds.array
    failed = store.set_virtual_refs_arr(
        f"{prefix}{vds.name}",
        array.files.shape,
        array.chunk_urls().ravel().tolist(),
        np.ascontiguousarray(array.offsets.ravel(), np.uint64),
        np.ascontiguousarray(array.lengths.ravel(), np.uint64),
        validate_containers=True,
    )
    if failed:
        raise ValueError(
            f"{len(failed)} chunks point outside the repository's virtual chunk containers, "
            f"e.g. chunk {failed[0]}"
        )
