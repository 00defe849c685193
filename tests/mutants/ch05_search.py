"""Known wrong implementations of the exercises of `ch05_search`: each must score below full marks.

They are test data for the grader's self-test (tests/test_grade.py), kept out of the course package.
"""

MUTANTS = {
    'ch05.ex4': {
        "no repair: the child may keep no layer at all": '''
def mutate(arch, rng, head_choices, ffn_choices, p):
    options = [(0, 0)] + [(h, w) for h in head_choices for w in ffn_choices]
    return [rng.choice([o for o in options if o != tuple(g)]) if rng.random() < p else tuple(g) for g in arch]
''',
        "redraws among all options, so a 'mutated' gene may stay the same": '''
def mutate(arch, rng, head_choices, ffn_choices, p):
    options = [(0, 0)] + [(h, w) for h in head_choices for w in ffn_choices]
    while True:
        child = [rng.choice(options) if rng.random() < p else tuple(g) for g in arch]
        if any(g != (0, 0) for g in child):
            return child
''',
        "never drops or adds a layer (only widths change)": '''
def mutate(arch, rng, head_choices, ffn_choices, p):
    options = [(h, w) for h in head_choices for w in ffn_choices]
    return [rng.choice([o for o in options if o != tuple(g)]) if (rng.random() < p and tuple(g) != (0, 0)) else tuple(g)
            for g in arch]
''',
        "mutates the parent in place": '''
def mutate(arch, rng, head_choices, ffn_choices, p):
    options = [(0, 0)] + [(h, w) for h in head_choices for w in ffn_choices]
    while True:
        for i, g in enumerate(list(arch)):
            if rng.random() < p:
                arch[i] = rng.choice([o for o in options if o != tuple(g)])
        if any(tuple(g) != (0, 0) for g in arch):
            return arch
''',
    },
    'ch05.ex5': {
        "strict on both axes: keeps a point tied in latency but less accurate": '''
def pareto_front(latency, accuracy):
    n = len(latency)
    return [i for i in range(n) if not any(latency[j] < latency[i] and accuracy[j] > accuracy[i] for j in range(n))]
''',
        "sweep by latency keeping strictly increasing accuracy (ties broken by index)": '''
def pareto_front(latency, accuracy):
    order = sorted(range(len(latency)), key=lambda i: (latency[i], i))
    front, best = [], float("-inf")
    for i in order:
        if accuracy[i] > best:
            front.append(i)
            best = accuracy[i]
    return sorted(front)
''',
    },
}
