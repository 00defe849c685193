"""Tests of the data loaders: real tweets, deterministic splits, tokenizer, batching."""
import pytest
import torch

from utils.data import LABELS, SPLIT_SIZES, batches, clean_tweet, load_tweets, package_dir
from utils.models import load_tokenizer


@pytest.fixture(scope="module")
def tweets():
    return load_tweets()


def test_splits_sizes_and_labels(tweets):
    assert len(tweets["test"]) == SPLIT_SIZES["test"]
    assert len(tweets["validation"]) == SPLIT_SIZES["validation"]
    assert len(tweets["train"]) > 30000
    for split in tweets.values():
        assert {e.label for e in split} == set(range(len(LABELS)))


def test_splits_are_disjoint_and_deduplicated(tweets):
    texts = [e.text.lower() for split in tweets.values() for e in split]
    assert len(texts) == len(set(texts))


def test_splits_are_deterministic(tweets):
    again = load_tweets()
    assert [e.text for e in again["test"]] == [e.text for e in tweets["test"]]


def test_clean_tweet_removes_garbled_bytes_and_links():
    assert clean_tweet("great flight \u0562_\ufffd\ufffd_ http://t.co/abc  ok") == "great flight _ _ http ok"
    assert clean_tweet("a &amp; b") == "a & b"
    with pytest.raises(TypeError):
        clean_tweet(None)


def test_no_garbled_text_left(tweets):
    assert all(e.text.isascii() for split in tweets.values() for e in split)


def test_confidence_filter(tweets):
    assert all(e.confidence is None or e.confidence >= 0.6 for e in tweets["train"])
    with pytest.raises(ValueError, match="min_confidence"):
        load_tweets(min_confidence=2.0)


def test_missing_package_names_the_package():
    with pytest.raises(ModuleNotFoundError, match="no-such-pkg"):
        package_dir("no_such_pkg_xyz", "no-such-pkg")


def test_tokenizer_dynamic_padding_and_truncation():
    tok = load_tokenizer(max_length=8)
    ids, mask = tok(["hi", "a much longer sentence that will surely be cut short here"])
    assert ids.shape == mask.shape == (2, 8)
    assert mask[0].sum() == 3 and mask[1].sum() == 8
    assert ids[1, -1].item() == tok._tok.token_to_id("[SEP]")
    ids, _ = tok(["hi", "ok"])
    assert ids.shape[1] == 3  # padded to the longest in the batch, not to a fixed 128
    with pytest.raises(TypeError):
        tok("not a list")
    assert tok.unk_id == tok._tok.token_to_id("[UNK]") and tok.tokens("\u2603\ufffd")[1] == "[UNK]"


def test_batches_cover_every_example_once(tweets):
    tok = load_tokenizer()
    sub = tweets["validation"][:70]
    got = list(batches(sub, tok, batch_size=32, shuffle=True, seed=1))
    assert [len(b.labels) for b in got] == [32, 32, 6]
    assert sorted(torch.cat([b.labels for b in got]).tolist()) == sorted(e.label for e in sub)
