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
    'ch05.ex6': {
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
    'ch05.ex5': {
        "random search: never selects, so it stays far from the optimum": '''
def evolve(score, fits, sample, mutate, crossover, evals, seed, pop=6):
    import random
    rng, history = random.Random(seed), []
    while len(history) < evals:
        a = tuple(sample(rng))
        if fits(a) and a not in [h for h, _ in history]:
            history.append((a, score(a)))
    return history
''',
        "parents are the worst architectures so far (sorted the wrong way)": '''
def evolve(score, fits, sample, mutate, crossover, evals, seed, pop=6):
    import random
    start, history = random.Random(seed), []
    while len(history) < pop:
        a = tuple(sample(start))
        if fits(a) and a not in [h for h, _ in history]:
            history.append((a, score(a)))
    rng = random.Random(seed)
    while len(history) < evals:
        parents = [a for a, _ in sorted(history, key=lambda h: h[1])[:pop]]
        x, y = rng.sample(parents, 2)
        child = tuple(mutate(crossover(x, y, rng), rng))
        if fits(child) and child not in [h for h, _ in history]:
            history.append((child, score(child)))
    return history
''',
        "no rejection: over-budget children are evaluated": '''
def evolve(score, fits, sample, mutate, crossover, evals, seed, pop=6):
    import random
    start, history = random.Random(seed), []
    while len(history) < pop:
        a = tuple(sample(start))
        if fits(a) and a not in [h for h, _ in history]:
            history.append((a, score(a)))
    rng = random.Random(seed)
    while len(history) < evals:
        parents = [a for a, _ in sorted(history, key=lambda h: -h[1])[:pop]]
        x, y = rng.sample(parents, 2)
        child = tuple(mutate(crossover(x, y, rng), rng))
        if child not in [h for h, _ in history]:
            history.append((child, score(child)))
    return history
''',
        "scores every candidate before rejecting it (spends evaluations on rejected children)": '''
def evolve(score, fits, sample, mutate, crossover, evals, seed, pop=6):
    import random
    start, history = random.Random(seed), []
    while len(history) < pop:
        a = tuple(sample(start))
        s = score(a)
        if fits(a) and a not in [h for h, _ in history]:
            history.append((a, s))
    rng = random.Random(seed)
    while len(history) < evals:
        parents = [a for a, _ in sorted(history, key=lambda h: -h[1])[:pop]]
        x, y = rng.sample(parents, 2)
        child = tuple(mutate(crossover(x, y, rng), rng))
        s = score(child)
        if fits(child) and child not in [h for h, _ in history]:
            history.append((child, s))
    return history
''',
        "may evaluate the same architecture twice": '''
def evolve(score, fits, sample, mutate, crossover, evals, seed, pop=6):
    import random
    start, history = random.Random(seed), []
    while len(history) < pop:
        a = tuple(sample(start))
        if fits(a):
            history.append((a, score(a)))
    rng = random.Random(seed)
    while len(history) < evals:
        parents = [a for a, _ in sorted(history, key=lambda h: -h[1])[:pop]]
        x, y = rng.sample(parents, 2)
        child = tuple(mutate(crossover(x, y, rng), rng))
        if fits(child):
            history.append((child, score(child)))
    return history
''',
    },
    'ch05.ex7': {
        "ignores the budget: the best of random architectures": '''
def find_subnet(score, latency, budget, space, max_evals):
    import random
    from utils.nas import sample_arch
    rng = random.Random(0)
    seen = {}
    while len(seen) < max_evals:
        a = tuple(sample_arch(rng, *space))
        if a not in seen:
            seen[a] = score(a)
    return list(max(seen, key=seen.get))
''',
        "the first architecture that fits: no search": '''
def find_subnet(score, latency, budget, space, max_evals):
    import random
    from utils.nas import sample_arch
    rng = random.Random(0)
    while True:
        a = sample_arch(rng, *space)
        if 0.85 * budget <= latency(a) <= budget:
            score(a)
            return list(a)
''',
        "returns an architecture it never scored (a winner copied from the page)": '''
def find_subnet(score, latency, budget, space, max_evals):
    n_layers, heads, widths = space
    return [(heads[-1], widths[0])] + [(0, 0)] * (n_layers - 1)
''',
    },
}
