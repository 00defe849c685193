"""Known wrong implementations of the exercises of `ch02_structured`: each must score below full marks.

They are test data for the grader's self-test (tests/test_grade.py), kept out of the course package; the
exercises' curated `mistakes` in the spec module are tested as mutants too (tests/course_fixtures.py).
"""

MUTANTS = {
    'ch02.ex8': {
        "absolute value inside the sum (|a*g| per token)": '''
def taylor_importance(acts, grads):
    return (acts * grads).abs().reshape(-1, acts.shape[-1]).sum(0)
''',
        "gradient magnitude only": '''
def taylor_importance(acts, grads):
    return grads.reshape(-1, grads.shape[-1]).sum(0).abs()
''',
        "sums over the units instead of over tokens": '''
def taylor_importance(acts, grads):
    return (acts * grads).sum(-1).abs().flatten()
''',
    },
    'ch02.ex9': {
        "keeps the first len(keep) heads, not the chosen ones": '''
def prune_heads(attn, keep):
    keep = list(range(len(keep)))
    d = attn.head_dim
    idx = torch.cat([torch.arange(h * d, (h + 1) * d) for h in keep]) if keep else torch.zeros(0, dtype=torch.long)
    new = SelfAttention(attn.o.out_features, len(keep), d, 0.0)
    with torch.no_grad():
        for name in ("q", "k", "v"):
            getattr(new, name).weight.copy_(getattr(attn, name).weight[idx])
            getattr(new, name).bias.copy_(getattr(attn, name).bias[idx])
        new.o.weight.copy_(attn.o.weight[:, idx])
        new.o.bias.copy_(attn.o.bias)
    return new.eval()
''',
        "forgets the q/k/v biases": '''
def prune_heads(attn, keep):
    d = attn.head_dim
    idx = torch.cat([torch.arange(h * d, (h + 1) * d) for h in keep]) if keep else torch.zeros(0, dtype=torch.long)
    new = SelfAttention(attn.o.out_features, len(keep), d, 0.0)
    with torch.no_grad():
        for name in ("q", "k", "v"):
            getattr(new, name).weight.copy_(getattr(attn, name).weight[idx])
        new.o.weight.copy_(attn.o.weight[:, idx])
        new.o.bias.copy_(attn.o.bias)
    return new.eval()
''',
        "uses head numbers as row numbers (forgets head_dim)": '''
def prune_heads(attn, keep):
    d = attn.head_dim
    idx = torch.tensor([h * d + i for i in range(d) for h in keep], dtype=torch.long)
    new = SelfAttention(attn.o.out_features, len(keep), d, 0.0)
    with torch.no_grad():
        for name in ("q", "k", "v"):
            getattr(new, name).weight.copy_(getattr(attn, name).weight[idx])
            getattr(new, name).bias.copy_(getattr(attn, name).bias[idx])
        new.o.weight.copy_(attn.o.weight[:, idx])
        new.o.bias.copy_(attn.o.bias)
    return new.eval()
''',
        "zeroes the removed heads in place instead of removing them": '''
def prune_heads(attn, keep):
    d = attn.head_dim
    with torch.no_grad():
        for h in range(attn.heads):
            if h not in keep:
                attn.o.weight[:, h * d:(h + 1) * d] = 0
    return attn
''',
        "slices the output projection's rows instead of its columns": '''
def prune_heads(attn, keep):
    d = attn.head_dim
    idx = torch.cat([torch.arange(h * d, (h + 1) * d) for h in keep]) if keep else torch.zeros(0, dtype=torch.long)
    new = SelfAttention(attn.o.out_features, len(keep), d, 0.0)
    with torch.no_grad():
        for name in ("q", "k", "v"):
            getattr(new, name).weight.copy_(getattr(attn, name).weight[idx])
            getattr(new, name).bias.copy_(getattr(attn, name).bias[idx])
        w = attn.o.weight[idx[idx < attn.o.out_features]]
        new.o.weight.zero_()
        new.o.weight[: w.shape[0], : w.shape[1]] = w[:, : new.o.weight.shape[1]]
        new.o.bias.copy_(attn.o.bias)
    return new.eval()
''',
    },
    'ch02.ex10': {
        "returns the sorted importance values, not the neurons' indices (the articles' second bug)": '''
def neurons_to_keep(importance, n_keep):
    return importance.sort(descending=True).values[:n_keep].tolist()
''',
        "indices in order of importance, not increasing": '''
def neurons_to_keep(importance, n_keep):
    return importance.argsort(descending=True)[:n_keep].tolist()
''',
        "removes n_keep neurons instead of keeping them": '''
def neurons_to_keep(importance, n_keep):
    return sorted(importance.argsort(descending=True)[n_keep:].tolist())
''',
    },
}
