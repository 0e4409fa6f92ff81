"""Sequence-to-sequence encoding, loss, greedy decoding and exact match."""

import itertools

import pytest
import torch

from anchorlab.init import apply_init_rate
from anchorlab.models.decoder import AnchorTransformer, ModelConfig
from anchorlab.realworld.sequence import (
    EOS,
    IGNORE,
    SEP,
    Vocabulary,
    encode_examples,
    exact_match,
    greedy_decode,
    sequence_loss,
)
from anchorlab.train.trainer import TrainConfig, train


@pytest.fixture(autouse=True)
def one_thread():
    """Tiny models run fastest on one thread; the machine may be shared."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


EXAMPLES = [(("a", "b"), ("x",)), (("b",), ("y", "x", "x"))]


def small_model(vocabulary, seq_len, seed=0):
    config = ModelConfig(
        vocab_size=len(vocabulary),
        seq_len=seq_len,
        n_layers=2,
        n_heads=2,
        d_model=32,
        d_k=32,
        d_v=32,
        d_ff=64,
        activation="gelu",
        norm_position="pre",
    )
    model = AnchorTransformer(config)
    apply_init_rate(model, 0.5, generator=torch.Generator().manual_seed(seed))
    return model


def test_encoding_puts_loss_on_target_and_eos_only():
    vocabulary = Vocabulary.from_examples(EXAMPLES)
    assert vocabulary.tokens[:3] == ("<pad>", SEP, EOS)
    encoded = encode_examples(EXAMPLES, vocabulary, length=8)
    ids = vocabulary.index

    first = encoded.tokens[0].tolist()
    assert first == [ids["a"], ids["b"], ids[SEP], ids["x"], ids[EOS], 0, 0, 0]
    assert encoded.target[0].tolist() == [IGNORE, IGNORE, ids["x"], ids[EOS]] + [IGNORE] * 4
    second = encoded.target[1].tolist()
    assert second[1:5] == [ids["y"], ids["x"], ids["x"], ids[EOS]]
    assert second[0] == IGNORE and set(second[5:]) == {IGNORE}

    with pytest.raises(ValueError, match="more than 4"):
        encode_examples(EXAMPLES, vocabulary, length=4)
    with pytest.raises(ValueError, match="not in the vocabulary"):
        vocabulary.encode(["z"])


def test_all_positions_ends_with_the_last_position_logits():
    vocabulary = Vocabulary.from_examples(EXAMPLES)
    model = small_model(vocabulary, 8).eval()
    tokens = encode_examples(EXAMPLES, vocabulary, length=8).tokens
    every = model(tokens, all_positions=True)
    assert every.shape == (2, 8, len(vocabulary))
    torch.testing.assert_close(every[:, -1], model(tokens))


def test_loss_ignores_the_source_and_the_padding():
    vocabulary = Vocabulary.from_examples(EXAMPLES)
    model = small_model(vocabulary, 8)
    encoded = encode_examples(EXAMPLES, vocabulary, length=8)
    changed = encoded.tokens.clone()
    loss = sequence_loss(model, encoded.tokens, encoded.target)
    changed[0, 5:] = vocabulary.index["y"]  # padding after EOS is never attended to
    torch.testing.assert_close(sequence_loss(model, changed, encoded.target), loss)


def copy_task():
    """Sources are 1-3 letters from {a, b, c}; the target is the source reversed."""
    letters = "abc"
    examples = [
        (tuple(word), tuple(reversed(word)))
        for n in (1, 2, 3)
        for word in itertools.product(letters, repeat=n)
    ]
    return examples, Vocabulary.from_examples(examples)


def test_exact_match_equals_greedy_decoding_on_a_partly_trained_model():
    examples, vocabulary = copy_task()
    encoded = encode_examples(examples, vocabulary)
    model = small_model(vocabulary, encoded.tokens.shape[1], seed=3)
    config = TrainConfig(steps=20, batch_size=16, lr=3e-3, warmup_steps=5, eval_every=20)
    torch.manual_seed(0)
    train(model, encoded.tokens, encoded.target, config, loss_fn=sequence_loss)

    one_pass = exact_match(model, encoded.tokens, encoded.target).tolist()
    sources = [vocabulary.encode(source) for source, _ in examples]
    decoded = greedy_decode(model, sources, vocabulary, max_new_tokens=5)
    greedy = [
        vocabulary.decode(ids) == list(t) for ids, (_, t) in zip(decoded, examples, strict=True)
    ]
    assert greedy == one_pass
    assert 0 < sum(one_pass) < len(one_pass)  # a mix of right and wrong answers


def test_greedy_decoding_stops_at_the_position_table():
    examples, vocabulary = copy_task()
    model = small_model(vocabulary, seq_len=5)
    decoded = greedy_decode(model, [vocabulary.encode(["a", "b", "c"])], vocabulary, 50)
    assert len(decoded[0]) <= 1
