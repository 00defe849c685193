"""Known wrong implementations of the exercises of `demo_spec`: each must score below full marks.

They are test data for the grader's self-test (tests/test_grading.py), kept out of the course package.
"""

MUTANTS = {
    'demo.ex1': {
        "keeps the k-th smallest (>= threshold)": '''
def magnitude_mask(weight, sparsity):
    k = round(sparsity * weight.numel())
    if k == 0:
        return torch.ones_like(weight, dtype=torch.bool)
    threshold = weight.abs().flatten().kthvalue(k).values
    return weight.abs() >= threshold
''',
        "signed values instead of magnitudes": '''
def magnitude_mask(weight, sparsity):
    k = round(sparsity * weight.numel())
    mask = torch.ones(weight.numel(), dtype=torch.bool)
    mask[weight.flatten().argsort()[:k]] = False
    return mask.view(weight.shape)
''',
        "float mask instead of bool": '''
def magnitude_mask(weight, sparsity):
    k = round(sparsity * weight.numel())
    mask = torch.ones(weight.numel())
    mask[weight.abs().flatten().argsort()[:k]] = 0.0
    return mask.view(weight.shape)
''',
    },
    'demo.ex2': {
        "rebinds the loop variable": '''
def apply_masks_(model, masks):
    for name, p in model.named_parameters():
        if name in masks:
            p = p * masks[name]
''',
        "returns a masked copy": '''
import copy
def apply_masks_(model, masks):
    model = copy.deepcopy(model)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name in masks:
                p.mul_(masks[name])
    return model
''',
        "also zeroes the biases": '''
def apply_masks_(model, masks):
    with torch.no_grad():
        for name, p in model.named_parameters():
            p.mul_(masks[name] if name in masks else 0)
''',
    },
    'demo.ex3': {
        "counts the bias in the MACs": '''
def linear_params_and_macs(in_features, out_features, tokens, bias=True):
    params = in_features * out_features + (out_features if bias else 0)
    return params, tokens * params
''',
    },
}
