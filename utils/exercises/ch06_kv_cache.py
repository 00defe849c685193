"""Chapter 6.3 exercises: decoding with a KV cache (cache bytes with grouped-query attention, the
bandwidth lower bound of decoding, greedy decoding with `past_key_values` equal to `generate`).

References: closed-form byte counts, and `generate(do_sample=False)` of a tiny randomly initialised
Llama model built here (no download), with the number of tokens the model was fed counted.
"""
from __future__ import annotations

import random

import torch

from utils.grading.spec import Case, CheckFailed, Exercise, Mistake, expect_close, expect_equal, expect_tensor

NOTEBOOK = "06-acceleration/03-kv-cache.ipynb"


# --- ch06.ex9: KV-cache bytes with grouped-query attention --------------------------------------
def _kv_args(seed: int) -> tuple:
    rng = random.Random(1500 + seed)
    kv = rng.choice([1, 2, 3, 4, 8])
    heads = kv * rng.choice([1, 3, 4, 8])
    return (rng.choice([1, 6, 30, 32]), heads, kv, rng.choice([64, 128, 80]), rng.choice([1, 17, 512, 4096]),
            rng.choice([1, 4, 16]), rng.choice([4, 2, 1]))


def _verify_kv(args: tuple, got: object) -> None:
    layers, heads, kv_heads, head_dim, tokens, batch, bpe = args
    expect_equal(got, 2 * layers * kv_heads * head_dim * tokens * batch * bpe,
                 what=f"bytes of keys and values: {layers} layers, {kv_heads} KV heads (of {heads} query heads), "
                      f"head_dim {head_dim}, {tokens} tokens, batch {batch}, {bpe} B/element")


KV_BYTES = Exercise(
    id="ch06.ex9",
    func="kv_cache_bytes",
    title="KV-cache bytes with grouped-query attention",
    points=2,
    notebook=NOTEBOOK,
    cases=(
        Case("random model shapes", _kv_args, _verify_kv, seeds=(0, 1, 2)),
        Case("random model shapes", _kv_args, _verify_kv, seeds=tuple(range(3, 12)), hidden=True),
    ),
    mistakes=(
        Mistake('counts the query heads (no grouped-query sharing)', '''
def kv_cache_bytes(layers, heads, kv_heads, head_dim, tokens, batch, bytes_per_element):
    return 2 * layers * heads * head_dim * tokens * batch * bytes_per_element
'''),
        Mistake('keys only (forgets the values)', '''
def kv_cache_bytes(layers, heads, kv_heads, head_dim, tokens, batch, bytes_per_element):
    return layers * kv_heads * head_dim * tokens * batch * bytes_per_element
'''),
    ),
)


# --- ch06.ex10: the bandwidth lower bound of decoding ---------------------------------------------
def _bound_args(seed: int) -> tuple:
    rng = random.Random(1600 + seed)
    return (rng.choice([540e6, 270e6, 14e9, 1e6]), rng.choice([46080, 23040, 131072, 0]), rng.choice([1, 20, 500]),
            rng.choice([1, 16, 64, 200]), rng.choice([20e9, 50e9, 3.3e12]))


def _verify_bound(args: tuple, got: object) -> None:
    w, kv, p, n, bw = args
    expected = sum(w + kv * (p + k) for k in range(n)) / bw
    expect_close(got, expected, rtol=1e-9, atol=0,
                 what=f"seconds to decode {n} tokens after a {p}-token prompt (weights {w:.3g} B, cache {kv} B/token, "
                      f"bandwidth {bw:.3g} B/s)")


DECODE_BOUND = Exercise(
    id="ch06.ex10",
    func="decode_time_lower_bound",
    title="Decoding time lower bound from bytes and bandwidth",
    points=2,
    notebook=NOTEBOOK,
    cases=(
        Case("random models and machines", _bound_args, _verify_bound, seeds=(0, 1, 2)),
        Case("random models and machines", _bound_args, _verify_bound, seeds=tuple(range(3, 12)), hidden=True),
    ),
    mistakes=(
        Mistake('off by one: the cache already holds the new token', '''
def decode_time_lower_bound(weight_bytes, kv_bytes_per_token, prompt_tokens, new_tokens, bandwidth):
    return sum(weight_bytes + kv_bytes_per_token * (prompt_tokens + k + 1) for k in range(new_tokens)) / bandwidth
'''),
    ),
)


# --- ch06.ex11: greedy decoding with the cache equals generate ------------------------------------
def _tiny_llama(seed: int):
    from transformers import LlamaConfig, LlamaForCausalLM
    torch.manual_seed(seed)
    cfg = LlamaConfig(vocab_size=97, hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
                      num_key_value_heads=2, max_position_embeddings=128, bos_token_id=1, eos_token_id=None,
                      pad_token_id=0)
    model = LlamaForCausalLM(cfg).eval()
    model.generation_config.eos_token_id = None
    model.generation_config.pad_token_id = 0
    return model


def _greedy_args(seed: int) -> tuple:
    g = torch.Generator().manual_seed(1700 + seed)
    p = int(torch.randint(1, 9, (1,), generator=g))
    n = [5, 12, 1, 20, 3, 9, 16, 2][seed % 8]
    return 1700 + seed, torch.randint(2, 97, (1, p), generator=g), n


def _run_greedy(fn, args: tuple) -> tuple:
    seed, ids, n = args
    model = _tiny_llama(seed)
    fed = []
    original = model.forward

    def counting_forward(*a, **kw):
        x = kw.get("input_ids", a[0] if a else None)
        fed.append(int(x.shape[-1]) if isinstance(x, torch.Tensor) else -1)
        return original(*a, **kw)

    model.forward = counting_forward
    with torch.no_grad():
        out = fn(model, ids.clone(), n)
    return out, fed


def _verify_greedy(args: tuple, got: object) -> None:
    seed, ids, n = args
    out, fed = got
    model = _tiny_llama(seed)
    with torch.no_grad():
        expected = model.generate(ids, max_new_tokens=n, do_sample=False, attention_mask=torch.ones_like(ids))
    expect_tensor(out, expected, what=f"prompt + {n} greedy tokens (as generate(do_sample=False))")
    p = ids.shape[1]
    if sum(fed) != p + n - 1:
        raise CheckFailed(f"the model was fed {sum(fed)} token positions in {len(fed)} calls; with the KV cache, "
                          f"the prompt once ({p}) and then one new token per step needs {p + n - 1}")


GREEDY = Exercise(
    id="ch06.ex11",
    func="greedy_with_cache",
    title="Greedy decoding with past_key_values, token for token equal to generate",
    points=3,
    notebook=NOTEBOOK,
    cases=(
        Case("a tiny random Llama, random prompts", _greedy_args, _verify_greedy, seeds=(0, 1), run=_run_greedy),
        Case("a tiny random Llama, random prompts", _greedy_args, _verify_greedy, seeds=tuple(range(2, 8)),
             hidden=True, run=_run_greedy),
    ),
)

EXERCISES = (KV_BYTES, DECODE_BOUND, GREEDY)
