"""The anchor task obeys every rule of its specification."""

import numpy as np
import pytest

from anchorlab.tasks import TaskSpec, TaskSpecError, generate, task_preset

SHIFT = {1: 5, 2: 1, 3: -2, 4: -8}


def check_rules(data, spec: TaskSpec, split: str) -> None:
    n, seq_len = data.tokens.shape
    assert seq_len == spec.seq_len
    rows = np.arange(n)

    is_anchor = np.isin(data.tokens, spec.anchors)
    assert (is_anchor.sum(axis=1) == 2).all(), "exactly one anchor pair per sequence"
    first = is_anchor.argmax(axis=1)
    assert (is_anchor[rows, first + 1]).all(), "the two anchors are adjacent"
    assert (first - 1 == data.key_position).all(), "the key sits right before the pair"
    assert (data.tokens[rows, data.key_position] == data.key).all()
    assert (data.tokens[rows, first] == data.anchor_pair[:, 0]).all()
    assert (data.tokens[rows, first + 1] == data.anchor_pair[:, 1]).all()

    items = data.tokens[~is_anchor]
    assert items.min() >= spec.item_min and items.max() <= spec.item_max
    assert set(data.key_position.tolist()) <= set(spec.positions)

    composed = data.key + np.array([SHIFT[a] + SHIFT[b] for a, b in data.anchor_pair])
    assert (data.inferential_target == composed).all()
    pairs = [tuple(p) for p in data.anchor_pair.tolist()]
    if split == "train":
        assert (data.key % 8 != data.key_position).all()
    if split == "test":
        assert (data.key % 8 == data.key_position).all()
    if split in ("train", "test"):
        assert set(pairs) == set(spec.trained_pairs)
        assert not set(pairs) & set(spec.held_out_pairs)
    else:
        assert set(pairs) == set(spec.held_out_pairs)


@pytest.mark.parametrize("split", ["train", "test", "heldout"])
def test_standard_splits_obey_every_rule(split):
    spec = task_preset("standard")
    data = generate(spec, split, 2000, seed=3)
    check_rules(data, spec, split)

    pairs = [tuple(p) for p in data.anchor_pair.tolist()]
    for i, pair in enumerate(pairs):
        if pair == (3, 4):
            assert data.target[i] == data.key[i] - 6
        elif pair == (4, 3):
            assert data.inferential_target[i] == data.key[i] - 10
            assert data.symmetric_target[i] == data.key[i] - 6
            assert data.target[i] == data.inferential_target[i]
        else:
            assert data.target[i] == data.inferential_target[i]


def test_standard_has_fourteen_inferential_pairs_and_one_mirror():
    spec = task_preset("standard")
    assert len(spec.trained_pairs) == 15
    assert (3, 4) in spec.trained_pairs and (4, 3) not in spec.trained_pairs


def test_both_held_out_variant_has_no_non_inferential_pair():
    spec = task_preset("both-held-out")
    data = generate(spec, "heldout", 500, seed=0)
    check_rules(data, spec, "heldout")
    assert set(map(tuple, data.anchor_pair.tolist())) == {(3, 4), (4, 3)}
    assert (data.target == data.inferential_target).all()
    assert len(spec.trained_pairs) == 14


def test_generation_is_deterministic_and_splits_are_independent():
    spec = task_preset("standard")
    a, b = generate(spec, "train", 100, seed=7), generate(spec, "train", 100, seed=7)
    assert np.array_equal(a.tokens, b.tokens) and np.array_equal(a.target, b.target)
    assert not np.array_equal(a.tokens, generate(spec, "train", 100, seed=8).tokens)


def test_train_and_test_share_no_key_position_combination():
    spec = task_preset("standard")
    train = generate(spec, "train", 5000, seed=0)
    test = generate(spec, "test", 5000, seed=0)
    combos = set(zip(train.key.tolist(), train.key_position.tolist(), strict=True))
    assert not combos & set(zip(test.key.tolist(), test.key_position.tolist(), strict=True))


def test_records_are_json_ready():
    record = next(generate(task_preset("standard"), "heldout", 1, seed=0).records())
    assert record["anchor_pair"] == [4, 3]
    assert record["symmetric_target"] == record["key"] - 6
    assert record["split"] == "heldout"


@pytest.mark.parametrize(
    "fields, message",
    [
        ({"item_min": 2}, "overlap the item range"),
        ({"vocab_size": 100}, "too small"),
        ({"seq_len": 2}, "too short"),
        ({"inferential_pairs": ((1, 2), (1, 2))}, "listed twice"),
        ({"held_out_pairs": ((3, 4),)}, "held out and also trained"),
        ({"non_inferential": ((3, 9, 0),)}, "not an anchor"),
        ({"key_positions": (7,)}, "leave no room"),
        (
            {"anchor_shifts": {1: -30, 2: 1}, "non_inferential": (), "held_out_pairs": ()},
            "targets reach",
        ),
    ],
)
def test_impossible_specifications_are_refused_in_one_line(fields, message):
    with pytest.raises(TaskSpecError, match=message) as error:
        TaskSpec(**fields)
    assert "\n" not in str(error.value)


def test_unknown_split_and_variant_are_refused():
    with pytest.raises(TaskSpecError, match="unknown split"):
        generate(task_preset("standard"), "validation", 10)
    with pytest.raises(TaskSpecError, match="unknown task variant"):
        task_preset("nonsense")


def test_custom_anchor_set_generates_its_own_targets():
    spec = TaskSpec(anchor_shifts={1: 3, 2: -3}, non_inferential=(), held_out_pairs=((2, 1),))
    data = generate(spec, "train", 300, seed=0)
    offsets = {(1, 1): 6, (1, 2): 0, (2, 2): -6}
    expected = [k + offsets[tuple(p)] for k, p in zip(data.key, data.anchor_pair, strict=True)]
    assert data.target.tolist() == expected
