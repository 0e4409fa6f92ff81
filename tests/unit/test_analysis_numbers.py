"""Every mechanism number on constructed cases whose answer is known."""

import numpy as np
import pytest

from anchorlab.analysis.clusters import mirror_pair_ratio, pair_centroids
from anchorlab.analysis.condensation import condensation
from anchorlab.analysis.embedding import (
    covariance_eigenvalues,
    effective_rank,
    embedding_distance_order,
    embedding_order,
    shift_differences,
    shift_neighbour_fraction,
)
from anchorlab.analysis.flow import information_flow
from anchorlab.analysis.parallelism import agreement_cosine_gap, agreement_mask, cosine_grid
from anchorlab.analysis.spectra import stable_rank

# -- information flow ---------------------------------------------------------------------


def hand_set_patterns(key_position: int, seq_len: int = 9) -> np.ndarray:
    """Two layers of causal attention with chosen weights on the key and anchors; every
    other row attends to itself."""
    layers = np.zeros((2, seq_len, seq_len))
    for layer in layers:
        np.fill_diagonal(layer, 1.0)
    p, a1, a2, last = key_position, key_position + 1, key_position + 2, seq_len - 1
    # layer 1: anchors read the key (0.6 and 0.8), the last position reads the anchors
    layers[0, a1] = 0
    layers[0, a1, [p, a1]] = [0.6, 0.4]
    layers[0, a2] = 0
    layers[0, a2, [p, a2]] = [0.8, 0.2]
    if a2 != last:
        layers[0, last] = 0
        layers[0, last, [a1, a2, last]] = [0.3, 0.5, 0.2]
    # layer 2: the last position reads the key
    layers[1, last] = 0
    layers[1, last, [p, last]] = [0.9, 0.1]
    return layers


def test_information_flow_reads_hand_set_attention_exactly():
    key_position = np.array([0, 2, 4])
    patterns = np.stack([hand_set_patterns(p) for p in key_position], axis=1)  # (L, N, T, T)

    flow = information_flow(patterns, key_position)

    assert flow["layer1_anchor_to_key"] == pytest.approx(0.7)
    assert flow["layer1_last_to_anchors"] == pytest.approx(0.8)
    assert flow["layer1_last_to_key"] == pytest.approx(0.0)
    assert flow["layer2_anchor_to_key"] == pytest.approx(0.0)
    assert flow["layer2_last_to_anchors"] == pytest.approx(0.0)
    assert flow["layer2_last_to_key"] == pytest.approx(0.9)


def test_information_flow_leaves_out_pairs_ending_at_the_last_position():
    patterns = hand_set_patterns(6)[:, None]  # the second anchor is the last token
    flow = information_flow(patterns, np.array([6]))
    assert flow["layer1_anchor_to_key"] == pytest.approx(0.7)
    assert np.isnan(flow["layer1_last_to_anchors"])


def test_information_flow_refuses_keys_without_room_for_the_pair():
    with pytest.raises(ValueError, match="key positions"):
        information_flow(np.zeros((1, 1, 9, 9)), np.array([7]))


# -- representation clusters --------------------------------------------------------------


def labelled_points(centroids: dict, per_pair: int = 5, noise: float = 0.0, seed: int = 0):
    rng = np.random.default_rng(seed)
    vectors, pairs = [], []
    for pair, centre in centroids.items():
        offsets = rng.normal(size=(per_pair, len(centre)))
        offsets -= offsets.mean(axis=0)  # centroid exactly at centre
        vectors.append(centre + noise * offsets)
        pairs += [pair] * per_pair
    return np.concatenate(vectors), np.array(pairs)


PAIRS = [(a, b) for a in range(1, 5) for b in range(1, 5)]


def test_mirror_pair_ratio_is_zero_when_mirror_pairs_merge():
    rng = np.random.default_rng(1)
    directions = {tuple(sorted(p)): rng.normal(size=6) for p in PAIRS}
    vectors, pairs = labelled_points({p: directions[tuple(sorted(p))] for p in PAIRS}, noise=1)
    assert mirror_pair_ratio(vectors, pairs) == pytest.approx(0.0, abs=1e-12)


def test_mirror_pair_ratio_is_one_when_every_pair_is_equally_far():
    corners = np.eye(len(PAIRS)) * 3.0  # all centroid distances equal
    vectors, pairs = labelled_points(dict(zip(PAIRS, corners, strict=True)), noise=0.5)
    assert mirror_pair_ratio(vectors, pairs) == pytest.approx(1.0)


def test_mirror_pair_ratio_matches_a_hand_computed_case():
    centroids = {(1, 2): np.array([0.0, 0]), (2, 1): np.array([1.0, 0]), (1, 1): np.array([0, 4.0])}
    vectors, pairs = labelled_points(centroids)
    # mirror: 1; others: |(0,0)-(0,4)| = 4 and |(1,0)-(0,4)| = sqrt(17)
    assert mirror_pair_ratio(vectors, pairs) == pytest.approx(1 / ((4 + np.sqrt(17)) / 2))
    found, centres = pair_centroids(vectors, pairs)
    assert found == [(1, 1), (1, 2), (2, 1)] and np.allclose(centres[0], [0, 4])


def test_mirror_pair_ratio_refuses_data_without_mirror_pairs():
    vectors, pairs = labelled_points({(1, 1): np.zeros(2), (1, 2): np.ones(2)})
    with pytest.raises(ValueError, match="both orders"):
        mirror_pair_ratio(vectors, pairs)


# -- equal-target parallelism and value vectors -------------------------------------------


def target_coded_vectors(offsets: dict, keys, contexts: int = 2) -> dict:
    """One orthonormal direction per target value: vectors depend on the target only."""
    targets = sorted({k + o for o in offsets.values() for k in keys})
    basis = dict(zip(targets, np.eye(len(targets)), strict=True))
    return {
        group: np.stack([np.stack([basis[k + offset] for k in keys])] * contexts)
        for group, offset in offsets.items()
    }


def test_agreement_gap_is_one_when_vectors_encode_only_the_target():
    keys = list(range(30, 41))
    offsets = {(3, 3): -4, (2, 2): 2, (1, 2): 6, (1, 3): 3}
    vectors = target_coded_vectors(offsets, keys)
    assert agreement_cosine_gap(vectors, keys, offsets) == pytest.approx(1.0)

    grid = cosine_grid(vectors, keys, offsets, (3, 3), (2, 2))
    assert grid.agree.sum() == 5  # x - 4 == y + 2 within 30..40
    assert np.allclose(grid.cosine[grid.agree], 1) and np.allclose(grid.cosine[~grid.agree], 0)


def test_agreement_gap_is_zero_when_vectors_ignore_the_target():
    keys = list(range(30, 41))
    offsets = {(3, 3): -4, (2, 2): 2, (1, 2): 6}
    constant = {g: np.ones((1, len(keys), 8)) for g in offsets}
    assert agreement_cosine_gap(constant, keys, offsets) == pytest.approx(0.0)

    rng = np.random.default_rng(0)
    unrelated = {g: rng.normal(size=(4, len(keys), 500)) for g in offsets}
    assert abs(agreement_cosine_gap(unrelated, keys, offsets)) < 0.05


def test_agreement_mask_marks_equal_results():
    mask = agreement_mask([30, 31, 32, 33], 1, -2)
    assert mask.tolist() == [
        [False, False, False, True],
        [False, False, False, False],
        [False, False, False, False],
        [False, False, False, False],
    ]


# -- condensation -------------------------------------------------------------------------


def test_three_repeated_directions_plus_noise_make_three_groups():
    rng = np.random.default_rng(0)
    directions = rng.normal(size=(3, 64))
    rows = np.repeat(directions, [30, 20, 14], axis=0) * rng.uniform(0.5, 2.0, size=(64, 1))
    weight = rows + 0.05 * rng.normal(size=rows.shape)

    grouped = condensation(weight[rng.permutation(64)], threshold=0.7)

    assert grouped.n_groups == 3
    assert np.bincount(grouped.groups).tolist() == [30, 20, 14]
    reordered = grouped.reordered()
    assert (reordered[:30, :30] > 0.7).all() and (reordered[30:50, 30:50] > 0.7).all()


def test_spread_rows_are_each_their_own_group():
    grouped = condensation(np.eye(10))
    assert grouped.n_groups == 10 and grouped.mean_abs_cosine == pytest.approx(0.0)


def test_identical_rows_condense_fully_and_a_negated_row_stays_apart():
    row = np.array([1.0, 2.0, -1.0])
    grouped = condensation(np.stack([row, 2 * row, 3 * row, -row]))
    assert grouped.n_groups == 2 and grouped.groups.tolist() == [0, 0, 0, 1]
    assert grouped.mean_abs_cosine == pytest.approx(1.0)


# -- embedding structure ------------------------------------------------------------------


def test_embeddings_on_a_line_in_value_order_have_order_one():
    values = np.arange(20, 100)
    direction = np.random.default_rng(0).normal(size=16)
    embeddings = np.outer(values - 60.0, direction)
    assert embedding_order(embeddings, values) == pytest.approx(1.0)
    assert embedding_distance_order(embeddings, values) == pytest.approx(1.0, abs=1e-3)
    assert effective_rank(covariance_eigenvalues(embeddings)) == pytest.approx(1.0)


def test_embeddings_in_random_order_have_low_order():
    values = np.arange(20, 100)
    rng = np.random.default_rng(0)
    embeddings = rng.normal(size=(80, 16))
    assert embedding_order(embeddings, values) < 0.4
    assert abs(embedding_distance_order(embeddings, values)) < 0.1


def test_effective_rank_of_equal_eigenvalues_is_their_number():
    assert effective_rank(np.ones(7)) == pytest.approx(7.0)
    assert effective_rank(np.array([1.0, 0, 0])) == pytest.approx(1.0)
    assert effective_rank(np.array([1.0, 1.0, 0.0])) == pytest.approx(2.0)


def test_shift_neighbours_count_progressions_of_shift_differences():
    assert shift_differences([5, 1, -2, -8]) == {3, 4, 6, 7, 9, 13}
    values = np.arange(20, 44)
    # residue mod 3 on a far axis, value // 3 on a near one: the nearest item is +-3 away
    embeddings = np.stack([100.0 * (values % 3), values // 3], axis=1)
    assert shift_neighbour_fraction(embeddings, values, {3, 4}) == pytest.approx(1.0)
    assert shift_neighbour_fraction(embeddings, values, {1}) == pytest.approx(0.0)


# -- spectra ------------------------------------------------------------------------------


def test_stable_rank_on_known_matrices():
    assert stable_rank(np.outer([1.0, 2, 3], [4.0, 5])) == pytest.approx(1.0)
    assert stable_rank(np.eye(6)) == pytest.approx(6.0)
    assert stable_rank(np.diag([2.0, 1.0])) == pytest.approx(1.25)
    assert np.isnan(stable_rank(np.zeros((3, 3))))
