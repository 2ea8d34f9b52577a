"""LSB-first bit packing: unpack inverts pack, for few values (one Python int) and many."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from rumi_xarray.bits import pack_bits, packed_nbytes, unpack_bits


def _values(bits: int, n: int, seed: int) -> np.ndarray:
    """``n`` random values of ``bits`` bits, the top bit set in some."""
    rng = np.random.default_rng(seed)
    low = rng.integers(0, 2 ** min(bits, 63), n, dtype=np.uint64)
    top = rng.integers(0, 2, n, dtype=np.uint64) << np.uint64(max(bits - 1, 0))
    return low | top if bits else low


@given(st.integers(0, 64), st.integers(0, 200), st.integers(0, 2**32 - 1))
def test_unpack_inverts_pack(bits: int, n: int, seed: int) -> None:
    values = _values(bits, n, seed)
    data = pack_bits(values, bits)
    assert len(data) == packed_nbytes(n, bits)
    out = unpack_bits(data, n, bits)
    assert out.dtype == np.uint64 and out.shape == (n,)
    assert out.tolist() == values.tolist()


@pytest.mark.parametrize("bits", [1, 7, 13, 33, 64])
def test_either_side_of_the_small_path(bits: int) -> None:
    """Around 1024 packed bits, where unpacking switches from one Python int to numpy."""
    for n in (1, 2, 1024 // bits, 1024 // bits + 1, 300):
        values = _values(bits, n, n)
        assert unpack_bits(pack_bits(values, bits), n, bits).tolist() == values.tolist()
