"""dkim.batch: how a batch is cut into trips to the signing processes."""

from __future__ import annotations

from clippost.dkim.batch import FIRST_CHUNK, MAX_CHUNK, chunk_ranges


class TestChunkRanges:
    def test_every_index_once_in_order(self) -> None:
        """The chunks cover every index once, in order, for any batch size."""
        for count in (0, 1, 15, 16, 17, 500, 5000):
            indices = [i for chunk in chunk_ranges(count) for i in chunk]
            assert indices == list(range(count))

    def test_small_first_then_doubling(self) -> None:
        """The first chunk is small (the first message leaves soon), later ones grow to the cap."""
        sizes = [len(chunk) for chunk in chunk_ranges(1000)]
        assert sizes[0] == FIRST_CHUNK
        assert sizes[1] == 2 * FIRST_CHUNK
        assert max(sizes) == MAX_CHUNK
