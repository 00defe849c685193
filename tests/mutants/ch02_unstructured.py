"""Known wrong implementations of the exercises of `ch02_unstructured`: each must score below full marks.

They are test data for the grader's self-test (tests/test_grade.py), kept out of the course package; the
exercises' curated `mistakes` in the spec module are tested as mutants too (tests/course_fixtures.py).
"""

MUTANTS = {
    'ch02.ex1': {
        "keeps everything >= the k-th smallest (ties break the count)": '''
def magnitude_mask(weight, sparsity):
    k = round(sparsity * weight.numel())
    if k == 0:
        return torch.ones_like(weight, dtype=torch.bool)
    threshold = weight.abs().flatten().kthvalue(k).values
    return weight.abs() > threshold
''',
        "truncates k instead of rounding": '''
def magnitude_mask(weight, sparsity):
    k = int(sparsity * weight.numel())
    mask = torch.ones(weight.numel(), dtype=torch.bool)
    mask[weight.abs().flatten().argsort()[:k]] = False
    return mask.view(weight.shape)
''',
    },
    'ch02.ex5': {
        "threshold with > (ties at the threshold all pruned)": '''
def global_magnitude_masks(weights, sparsity):
    flat = torch.cat([w.abs().flatten() for w in weights.values()])
    k = round(sparsity * flat.numel())
    if k == 0:
        return {n: torch.ones_like(w, dtype=torch.bool) for n, w in weights.items()}
    t = flat.kthvalue(k).values
    return {n: w.abs() > t for n, w in weights.items()}
''',
        "normalizes each tensor by its largest weight first": '''
def global_magnitude_masks(weights, sparsity):
    scores = {n: w.abs() / w.abs().max() for n, w in weights.items()}
    flat = torch.cat([s.flatten() for s in scores.values()])
    k = round(sparsity * flat.numel())
    keep = torch.ones(flat.numel(), dtype=torch.bool)
    keep[flat.argsort()[:k]] = False
    out, i = {}, 0
    for n, s in scores.items():
        out[n] = keep[i:i + s.numel()].view(s.shape)
        i += s.numel()
    return out
''',
    },
    'ch02.ex2': {
        "the articles' mask: keeps |z| <= tau (the small weights)": '''
def standardized_prune(weight, tau):
    z = (weight - weight.mean()) / weight.std()
    return weight * (z.abs() <= tau)
''',
    },
    'ch02.ex3': {
        "the articles' code: sort each row, keep the first N entries": '''
def prune_columns(weight, fraction):
    n_keep = weight.shape[1] - round(fraction * weight.shape[1])
    w = weight / weight.norm(dim=1, keepdim=True)
    return w.sort(dim=1).values[:, :n_keep]
''',
        "keeps the first columns after sorting columns by norm (positions lost)": '''
def prune_columns(weight, fraction):
    n_keep = weight.shape[1] - round(fraction * weight.shape[1])
    order = weight.norm(dim=0).argsort(descending=True)
    out = torch.zeros_like(weight)
    out[:, :n_keep] = weight[:, order[:n_keep]]
    return out
''',
        "ranks rows instead of columns": '''
def prune_columns(weight, fraction):
    k = round(fraction * weight.shape[0])
    keep = torch.ones(weight.shape[0], dtype=torch.bool)
    keep[weight.norm(dim=1).argsort()[:k]] = False
    return weight * keep[:, None]
''',
    },
    'ch02.ex4': {
        "the articles' code: clamps a copy (changes nothing)": '''
def threshold_prune_(model, threshold):
    for param in model.parameters():
        param.data.abs().clamp_(threshold, 1 - threshold)
''',
        "rebinds the loop variable": '''
def threshold_prune_(model, threshold):
    for p in model.parameters():
        if p.dim() >= 2:
            p = p * (p.abs() >= threshold)
''',
        "clamps magnitudes up to the threshold instead of zeroing": '''
def threshold_prune_(model, threshold):
    with torch.no_grad():
        for p in model.parameters():
            if p.dim() >= 2:
                p.copy_(p.sign() * p.abs().clamp(min=threshold))
''',
    },
    'ch02.ex6': {
        "one global magnitude threshold, no scan (passes the synthetic MLP, misses the teacher's bar)": '''
def sparsity_plan(model, batches, names, target):
    params = dict(model.named_parameters())
    flat = torch.cat([params[n].detach().abs().flatten() for n in names])
    threshold = flat.sort().values[round(target * flat.numel()) - 1]
    return {n: float((params[n].detach().abs() <= threshold).double().mean()) for n in names}
''',
        "scans with the model's weights left pruned (never put back)": '''
def sparsity_plan(model, batches, names, target):
    params = dict(model.named_parameters())
    sizes = {n: params[n].numel() for n in names}
    with torch.no_grad():
        ref = [torch.log_softmax(model(*x), -1) for x in batches]
        cost = {}
        for n in names:
            params[n].mul_(magnitude_mask(params[n], 0.9))
            cost[n] = sum(torch.nn.functional.kl_div(torch.log_softmax(model(*x), -1), r, log_target=True,
                                                     reduction="sum").item() for x, r in zip(batches, ref)) / sizes[n]
    plan, total = {n: target - 0.2 for n in names}, sum(sizes.values())
    for n in sorted(names, key=cost.get):
        if sum(sizes[m] * plan[m] for m in names) >= target * total:
            break
        plan[n] = 0.9
    return plan
''',
    },
    'ch02.ex7': {
        "keeps going past the last step": '''
def cubic_sparsity(step, total_steps, final, initial=0.0):
    t = step / total_steps
    return final + (initial - final) * (1 - t) ** 3
''',
    },
}
