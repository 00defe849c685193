"""Chapter 6's GPU figures, prepared but not yet run: no GPU was available when the chapter was written.

Run on a machine with one CUDA GPU, from the repository root (under five minutes):

    python solutions/06-acceleration/gpu_figures.py

It measures, and records in results/recorded/ch06-gpu.json (utils.results.save_recorded), only what it
ran: matmul throughput in fp32, TF32, fp16 and bf16; SDPA (flash / memory-efficient / math) against the
manual attention at long sequence lengths; the teacher's latency at batch 32 in fp32 and bf16; 2:4
semi-structured sparsity on one linear layer; SmolLM2 decoding tokens/s against batch size, eager and
with CUDA graphs (torch.compile mode="reduce-overhead"). Each comparison is interleaved, median of 7
rounds, with torch.cuda.synchronize around every timed call. Without CUDA it exits with a message and
records nothing.
"""
from __future__ import annotations

import math
import pathlib
import statistics
import sys
import time

import torch
import torch.nn.functional as F

ROUNDS = 7


def timed(variants: dict, rounds: int = ROUNDS) -> dict:
    """{name: median ms}, the variants interleaved round by round after one warm-up call each."""
    for fn in variants.values():
        fn()
    torch.cuda.synchronize()
    times = {name: [] for name in variants}
    for _ in range(rounds):
        for name, fn in variants.items():
            torch.cuda.synchronize()
            start = time.perf_counter()
            fn()
            torch.cuda.synchronize()
            times[name].append((time.perf_counter() - start) * 1000)
    return {name: statistics.median(t) for name, t in times.items()}


def matmul_throughput(n: int = 8192) -> dict:
    out = {}
    a, b = torch.randn(n, n, device="cuda"), torch.randn(n, n, device="cuda")
    for name, dtype, tf32 in (("fp32", torch.float32, False), ("tf32", torch.float32, True),
                              ("fp16", torch.float16, False), ("bf16", torch.bfloat16, False)):
        torch.backends.cuda.matmul.allow_tf32 = tf32
        x, y = a.to(dtype), b.to(dtype)
        ms = timed({name: lambda: x @ y})[name]
        out[f"matmul_{name}_tflops"] = 2 * n**3 / (ms / 1000) / 1e12
    torch.backends.cuda.matmul.allow_tf32 = False
    return out


def attention(lengths=(1024, 4096, 8192), heads: int = 12, d: int = 64) -> dict:
    from torch.nn.attention import SDPBackend, sdpa_kernel
    out = {}
    for n in lengths:
        q, k, v = (torch.randn(1, heads, n, d, device="cuda", dtype=torch.bfloat16) for _ in range(3))

        def manual():
            return torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(d), dim=-1) @ v

        variants = {"manual": manual}
        for name, backend in (("flash", SDPBackend.FLASH_ATTENTION), ("efficient", SDPBackend.EFFICIENT_ATTENTION)):
            def run(backend=backend):
                with sdpa_kernel(backend):
                    return F.scaled_dot_product_attention(q, k, v)
            variants[name] = run
        ms = timed(variants)
        for name in ("flash", "efficient"):
            out[f"sdpa_{name}_speedup_n{n}"] = ms["manual"] / ms[name]
    return out


def teacher_and_sparsity() -> dict:
    from utils.data import load_tweets
    from utils.teacher import load_teacher
    out = {}
    teacher, tokenizer = load_teacher(progress=False)
    teacher = teacher.eval().cuda()
    ids, mask = (t.cuda() for t in tokenizer.encode([e.text for e in load_tweets()["validation"][:32]]))
    bf16 = __import__("copy").deepcopy(teacher).to(torch.bfloat16)
    with torch.inference_mode():
        ms = timed({"fp32": lambda: teacher(ids, mask), "bf16": lambda: bf16(ids, mask)})
    out.update({"teacher_b32_fp32_ms": ms["fp32"], "teacher_b32_bf16_speedup": ms["fp32"] / ms["bf16"]})
    try:
        from torch.sparse import to_sparse_semi_structured
        w = torch.randn(4096, 4096, device="cuda", dtype=torch.float16)
        w = w * torch.tensor([1, 1, 0, 0], device="cuda", dtype=w.dtype).repeat(4096, 1024)   # 2 of every 4 kept
        x = torch.randn(4096, 4096, device="cuda", dtype=torch.float16)
        ws = to_sparse_semi_structured(w)
        ms = timed({"dense": lambda: F.linear(x, w), "2:4": lambda: F.linear(x, ws)})
        out["semi_structured_2of4_speedup"] = ms["dense"] / ms["2:4"]
    except (RuntimeError, ImportError) as exc:   # needs an Ampere or later GPU
        print(f"2:4 sparsity not measured: {exc}")
    return out


def decoding(batches=(1, 8, 32), new_tokens: int = 32) -> dict:
    from utils.lm import load_smollm2
    out = {}
    model, tok = load_smollm2(torch.bfloat16)
    model = model.cuda()
    for b in batches:
        ids = torch.full((b, 16), tok.eos_token_id or 0, device="cuda")
        with torch.inference_mode():
            ms = timed({"eager": lambda: model.generate(ids, max_new_tokens=new_tokens, do_sample=False,
                                                        min_new_tokens=new_tokens)}, rounds=3)
        out[f"decode_bf16_batch{b}_tokens_per_s"] = b * new_tokens / (ms["eager"] / 1000)
    step = torch.compile(model, mode="reduce-overhead")
    x = torch.zeros(1, 1, dtype=torch.long, device="cuda")
    with torch.inference_mode():
        ms = timed({"eager": lambda: model(x), "cuda graph": lambda: step(x)})
    out["one_token_forward_cuda_graph_speedup"] = ms["eager"] / ms["cuda graph"]
    return out


sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[2]))   # the repository root, for utils


def main() -> int:
    if not torch.cuda.is_available():
        print("No CUDA GPU: nothing measured, nothing recorded.")
        return 1
    from utils.results import save_recorded
    start = time.perf_counter()
    figures = {"gpu": torch.cuda.get_device_name(0)}
    for part in (matmul_throughput, attention, teacher_and_sparsity, decoding):
        figures.update(part())
        print(part.__name__, "done", f"{time.perf_counter() - start:.0f} s")
    path = save_recorded("ch06-gpu", figures, {"rounds": ROUNDS}, time.perf_counter() - start)
    print(f"recorded {len(figures)} figures in {path.name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
