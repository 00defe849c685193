"""The decoder LM's file is found offline, and perplexity is computed correctly."""
import math

import pytest
import torch

from utils.lm import load_news_text, perplexity, smollm2_gguf_path


def test_gguf_file_is_installed_and_is_smollm2():
    gguf = pytest.importorskip("gguf")
    path = smollm2_gguf_path()
    reader = gguf.GGUFReader(str(path))
    blocks = [t for t in reader.tensors if t.name.startswith("blk.")]
    assert {int(t.name.split(".")[1]) for t in blocks} == set(range(30))


class Uniform(torch.nn.Module):
    """A 'model' predicting every token of a vocabulary of size V with equal probability."""

    def __init__(self, vocab: int):
        super().__init__()
        self.vocab = vocab
        self.dummy = torch.nn.Parameter(torch.zeros(1))

    def forward(self, ids):
        class Out:
            logits = torch.zeros(*ids.shape, self.vocab)
        return Out()


def test_perplexity_of_a_uniform_model_is_the_vocabulary_size():
    ids = torch.randint(0, 50, (1000,))
    assert math.isclose(perplexity(Uniform(50), ids, window=64), 50.0, rel_tol=1e-5)
    with pytest.raises(ValueError):
        perplexity(Uniform(50), ids[:1])


def test_news_text():
    text = load_news_text()
    assert len(text.split()) > 50000
