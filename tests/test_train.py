"""The training loop: seeding, determinism, masks re-applied after steps, evaluation."""
import pytest
import torch

from utils.data import Example
from utils.models import Classifier, small_config
from utils.train import accuracy, evaluate, pick_device, set_seed, train


class CharTokenizer:
    """A tiny stand-in tokenizer: one id per character (keeps these tests fast)."""

    def encode(self, texts, max_length=None):
        width = max(len(t) for t in texts) + 2
        ids = torch.zeros(len(texts), width, dtype=torch.long)
        mask = torch.zeros_like(ids)
        for i, t in enumerate(texts):
            row = [1] + [3 + (ord(c) % 90) for c in t] + [2]
            ids[i, : len(row)] = torch.tensor(row)
            mask[i, : len(row)] = 1
        return ids, mask


def toy_data(n=64):
    words = ["good", "great", "bad", "awful"]
    return [Example(words[i % 4] + " day" * (i % 3), int(i % 4 >= 2), None) for i in range(n)]


def tiny_model(seed=0):
    torch.manual_seed(seed)
    cfg = small_config(layers=1, heads=2, hidden=16, ffn=32, vocab_size=100, max_positions=32, dropout=0.0)
    return Classifier(cfg, num_labels=2)


def test_training_learns_a_trivial_task_and_is_deterministic():
    data, tok = toy_data(), CharTokenizer()
    m1, m2 = tiny_model(), tiny_model()
    log = train(m1, data, tok, steps=60, batch_size=16, lr=3e-3, device="cpu", progress=False)
    train(m2, data, tok, steps=60, batch_size=16, lr=3e-3, device="cpu", progress=False)
    assert log.steps == 60 and len(log.losses) == 60
    assert evaluate(m1, data, tok)["accuracy"] == 1.0
    for a, b in zip(m1.parameters(), m2.parameters()):
        assert torch.equal(a, b)


def test_after_step_hook_keeps_pruned_weights_at_zero():
    data, tok, model = toy_data(), CharTokenizer(), tiny_model()
    w = model.encoder.layers[0].ffn.up.weight
    mask = (torch.rand_like(w) > 0.5).float()

    def reapply(m):
        with torch.no_grad():
            m.encoder.layers[0].ffn.up.weight.mul_(mask)

    train(model, data, tok, steps=5, batch_size=16, lr=1e-2, device="cpu", progress=False, after_step=reapply)
    assert torch.all(w[mask == 0] == 0)


def test_accuracy_and_errors():
    assert accuracy(torch.tensor([[0.1, 0.9], [2.0, 1.0]]), [1, 1]) == 0.5
    logits = torch.zeros(2000, 3)
    logits[:1619, 1] = 1.0                                    # 1,619 of 2,000 predict class 1
    got = accuracy(logits, [1] * 2000)
    assert isinstance(got, float) and got == 1619 / 2000      # the exact ratio, not a float32 mean
    assert f"{got:.1%}" == f"{0.8095:.1%}"                    # prints as the 4-digit record of it does
    with pytest.raises(ValueError):
        accuracy(torch.zeros(3, 2), [0, 1])
    with pytest.raises(ValueError, match="NaN"):
        accuracy(torch.tensor([[float("nan"), 0.0]]), [0])
    with pytest.raises(ValueError, match="seed"):
        set_seed(-1)
    with pytest.raises(ValueError, match="steps"):
        train(tiny_model(), toy_data(), CharTokenizer(), steps=0)


def test_pick_device():
    assert pick_device("cpu").type == "cpu"
    if not torch.cuda.is_available():
        assert pick_device().type == "cpu"
        with pytest.raises(ValueError, match="CUDA"):
            pick_device("cuda")
