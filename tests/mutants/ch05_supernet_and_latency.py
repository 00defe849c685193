"""Known wrong implementations of the exercises of `ch05_supernet_and_latency`: each must score below full marks.

They are test data for the grader's self-test (tests/test_grade.py), kept out of the course package.
"""

MUTANTS = {
    'ch05.ex1': {
        "only the first k layers can be kept (no choice of which layers)": '''
def count_architectures(n_layers, head_choices, ffn_choices, min_layers=1):
    per_layer = len(head_choices) * len(ffn_choices)
    return sum(per_layer ** k for k in range(max(min_layers, 0), n_layers + 1))
''',
        "one (heads, width) pair shared by all kept layers": '''
def count_architectures(n_layers, head_choices, ffn_choices, min_layers=1):
    from math import comb
    per_layer = len(head_choices) * len(ffn_choices)
    return sum(comb(n_layers, k) * (per_layer if k else 1) for k in range(max(min_layers, 0), n_layers + 1))
''',
    },
    'ch05.ex2': {
        "keeps the last h heads and w neurons instead of the first": '''
@torch.no_grad()
def slice_subnet(supernet, arch):
    kept = [(i, int(h), int(f)) for i, (h, f) in enumerate(arch) if (int(h), int(f)) != (0, 0)]
    cfg = EncoderConfig.from_dict({**supernet.cfg.to_dict(), "layers": len(kept),
                                   "heads_per_layer": [h for _, h, _ in kept], "ffn_per_layer": [f for _, _, f in kept]})
    sub = Classifier(cfg, supernet.head.out_features)
    sub.encoder.embed.load_state_dict(supernet.encoder.embed.state_dict())
    sub.head.load_state_dict(supernet.head.state_dict())
    for new, (i, h, f) in zip(sub.encoder.layers, kept):
        old = supernet.encoder.layers[i]
        rows = h * old.attn.head_dim
        for name in ("q", "k", "v"):
            getattr(new.attn, name).weight.copy_(getattr(old.attn, name).weight[-rows:])
            getattr(new.attn, name).bias.copy_(getattr(old.attn, name).bias[-rows:])
        new.attn.o.weight.copy_(old.attn.o.weight[:, -rows:])
        new.attn.o.bias.copy_(old.attn.o.bias)
        new.ffn.up.weight.copy_(old.ffn.up.weight[-f:])
        new.ffn.up.bias.copy_(old.ffn.up.bias[-f:])
        new.ffn.down.weight.copy_(old.ffn.down.weight[:, -f:])
        new.ffn.down.bias.copy_(old.ffn.down.bias)
        new.attn_norm.load_state_dict(old.attn_norm.state_dict())
        new.ffn_norm.load_state_dict(old.ffn_norm.state_dict())
    return sub.eval()
''',
        "kept layer j takes the weights of teacher layer j (not of the kept layer's index)": '''
@torch.no_grad()
def slice_subnet(supernet, arch):
    kept = [(i, int(h), int(f)) for i, (h, f) in enumerate(arch) if (int(h), int(f)) != (0, 0)]
    cfg = EncoderConfig.from_dict({**supernet.cfg.to_dict(), "layers": len(kept),
                                   "heads_per_layer": [h for _, h, _ in kept], "ffn_per_layer": [f for _, _, f in kept]})
    sub = Classifier(cfg, supernet.head.out_features)
    sub.encoder.embed.load_state_dict(supernet.encoder.embed.state_dict())
    sub.head.load_state_dict(supernet.head.state_dict())
    for j, (new, (i, h, f)) in enumerate(zip(sub.encoder.layers, kept)):
        old = supernet.encoder.layers[j]
        rows = h * old.attn.head_dim
        for name in ("q", "k", "v"):
            getattr(new.attn, name).weight.copy_(getattr(old.attn, name).weight[:rows])
            getattr(new.attn, name).bias.copy_(getattr(old.attn, name).bias[:rows])
        new.attn.o.weight.copy_(old.attn.o.weight[:, :rows])
        new.attn.o.bias.copy_(old.attn.o.bias)
        new.ffn.up.weight.copy_(old.ffn.up.weight[:f])
        new.ffn.up.bias.copy_(old.ffn.up.bias[:f])
        new.ffn.down.weight.copy_(old.ffn.down.weight[:, :f])
        new.ffn.down.bias.copy_(old.ffn.down.bias)
        new.attn_norm.load_state_dict(old.attn_norm.state_dict())
        new.ffn_norm.load_state_dict(old.ffn_norm.state_dict())
    return sub.eval()
''',
        "forgets the LayerNorms (left at their initial 1 / 0)": '''
@torch.no_grad()
def slice_subnet(supernet, arch):
    kept = [(i, int(h), int(f)) for i, (h, f) in enumerate(arch) if (int(h), int(f)) != (0, 0)]
    cfg = EncoderConfig.from_dict({**supernet.cfg.to_dict(), "layers": len(kept),
                                   "heads_per_layer": [h for _, h, _ in kept], "ffn_per_layer": [f for _, _, f in kept]})
    sub = Classifier(cfg, supernet.head.out_features)
    sub.encoder.embed.load_state_dict(supernet.encoder.embed.state_dict())
    sub.head.load_state_dict(supernet.head.state_dict())
    for new, (i, h, f) in zip(sub.encoder.layers, kept):
        old = supernet.encoder.layers[i]
        rows = h * old.attn.head_dim
        for name in ("q", "k", "v"):
            getattr(new.attn, name).weight.copy_(getattr(old.attn, name).weight[:rows])
            getattr(new.attn, name).bias.copy_(getattr(old.attn, name).bias[:rows])
        new.attn.o.weight.copy_(old.attn.o.weight[:, :rows])
        new.attn.o.bias.copy_(old.attn.o.bias)
        new.ffn.up.weight.copy_(old.ffn.up.weight[:f])
        new.ffn.up.bias.copy_(old.ffn.up.bias[:f])
        new.ffn.down.weight.copy_(old.ffn.down.weight[:, :f])
        new.ffn.down.bias.copy_(old.ffn.down.bias)
    return sub.eval()
''',
        "masks in place instead of slicing (full-size model, supernet weights zeroed)": '''
@torch.no_grad()
def slice_subnet(supernet, arch):
    for (h, f), layer in zip(arch, supernet.encoder.layers):
        rows = h * layer.attn.head_dim
        layer.attn.o.weight[:, rows:] = 0
        layer.ffn.down.weight[:, f:] = 0
    return supernet
''',
    },
    'ch05.ex3': {
        "ratio of means: mean(residual) / mean(layers)": '''
def fit_layer_cost(predicted, measured, layers):
    r = [m - p for p, m in zip(predicted, measured)]
    return (sum(r) / len(r)) / (sum(layers) / len(layers))
''',
        "mean residual, ignoring the number of layers": '''
def fit_layer_cost(predicted, measured, layers):
    return sum(m - p for p, m in zip(predicted, measured)) / len(layers)
''',
    },
}
