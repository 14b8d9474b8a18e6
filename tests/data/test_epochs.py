"""EpochSampler hands the epoch to the dataset with each index; EpochLoader draws nothing before the first batch."""

from __future__ import annotations

from torch.utils.data import Dataset

from pipeline.data.epochs import EpochLoader, EpochSampler


class Keys(Dataset):
    """Returns the key it was asked for, and counts the requests."""

    def __init__(self, n: int) -> None:
        self.n, self.asked = n, 0

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, key):
        self.asked += 1
        return key


def test_keys_carry_the_epoch_set_before_iterating():
    sampler = EpochSampler(Keys(10), shuffle=True, seed=3)
    sampler.set_epoch(4)
    keys = list(sampler)
    assert sorted(i for i, _ in keys) == list(range(10)) and {e for _, e in keys} == {4}
    sampler.set_epoch(5)
    assert [i for i, _ in sampler] != [i for i, _ in keys]  # a new order each epoch (seeded)


def test_ranks_share_the_indices():
    ranks = [list(EpochSampler(Keys(10), num_replicas=2, rank=r, shuffle=False)) for r in (0, 1)]
    assert sorted(i for keys in ranks for i, _ in keys) == list(range(10))


def test_loader_asks_for_nothing_until_the_first_batch():
    data = Keys(8)
    sampler = EpochSampler(data, shuffle=False)
    loader = EpochLoader(data, batch_size=2, sampler=sampler, num_workers=0, collate_fn=list)
    iterator = iter(loader)
    sampler.set_epoch(7)  # Lightning sets the epoch after making the iterator
    assert data.asked == 0
    assert next(iterator) == [(0, 7), (1, 7)]
    assert len(iterator) == 4


def test_workers_draw_the_epoch_set_after_the_iterator_was_made():
    data = Keys(8)
    sampler = EpochSampler(data, shuffle=False)
    loader = EpochLoader(data, batch_size=4, sampler=sampler, num_workers=1, collate_fn=list,
                         persistent_workers=True)  # fmt: skip
    for epoch in (2, 3):
        iterator = iter(loader)
        sampler.set_epoch(epoch)
        assert [key for batch in iterator for key in batch] == [(i, epoch) for i in range(8)]
