"""Sharding an epoch's batches across data-parallel processes."""

import pytest

from genai_lab.ml.parallel import shard


def test_every_process_gets_as_many_batches_and_none_is_trained_twice():
    batches = list(range(11))
    shares = [shard(batches, rank, 3) for rank in range(3)]
    assert shares == [[0, 3, 6], [1, 4, 7], [2, 5, 8]]  # the last 11 % 3 batches wait for the next epoch's shuffle
    assert shard(batches, 0, 1) == batches


def test_fewer_batches_than_processes_all_train_the_first():
    assert [shard(["only"], rank, 4) for rank in range(4)] == [["only"]] * 4


def test_a_rank_outside_the_group_is_an_error():
    with pytest.raises(ValueError, match="rank 2 outside 0..1"):
        shard([1, 2, 3], 2, 2)
