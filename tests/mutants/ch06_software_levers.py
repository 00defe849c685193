"""Known wrong implementations of the exercises of `ch06_software_levers`: each must score below full marks.

They are test data for the grader's self-test (tests/test_grade.py), kept out of the course package;
ch06.ex6 and ch06.ex7 include the source articles' own code.
"""

MUTANTS = {
    'ch06.ex4': {
        "returns rows in sorted order (order not restored)": '''
def bucketed_forward(forward, sequences, batch_size, pad_id):
    order = sorted(range(len(sequences)), key=lambda i: len(sequences[i]))
    outs = []
    for start in range(0, len(order), batch_size):
        chunk = order[start:start + batch_size]
        width = max(len(sequences[i]) for i in chunk)
        ids = torch.full((len(chunk), width), pad_id, dtype=torch.long)
        mask = torch.zeros((len(chunk), width), dtype=torch.long)
        for j, i in enumerate(chunk):
            ids[j, :len(sequences[i])] = torch.tensor(sequences[i])
            mask[j, :len(sequences[i])] = 1
        outs.append(forward(ids, mask))
    return torch.cat(outs)
''',
        "applies the sorting permutation instead of its inverse": '''
def bucketed_forward(forward, sequences, batch_size, pad_id):
    order = sorted(range(len(sequences)), key=lambda i: len(sequences[i]))
    outs = []
    for start in range(0, len(order), batch_size):
        chunk = order[start:start + batch_size]
        width = max(len(sequences[i]) for i in chunk)
        ids = torch.full((len(chunk), width), pad_id, dtype=torch.long)
        mask = torch.zeros((len(chunk), width), dtype=torch.long)
        for j, i in enumerate(chunk):
            ids[j, :len(sequences[i])] = torch.tensor(sequences[i])
            mask[j, :len(sequences[i])] = 1
        outs.append(forward(ids, mask))
    return torch.cat(outs)[torch.tensor(order)]
''',
        "pads every batch to the longest sequence overall": '''
def bucketed_forward(forward, sequences, batch_size, pad_id):
    order = sorted(range(len(sequences)), key=lambda i: len(sequences[i]))
    width = max(len(s) for s in sequences)
    rows = [None] * len(sequences)
    for start in range(0, len(order), batch_size):
        chunk = order[start:start + batch_size]
        ids = torch.full((len(chunk), width), pad_id, dtype=torch.long)
        mask = torch.zeros((len(chunk), width), dtype=torch.long)
        for j, i in enumerate(chunk):
            ids[j, :len(sequences[i])] = torch.tensor(sequences[i])
            mask[j, :len(sequences[i])] = 1
        out = forward(ids, mask)
        for j, i in enumerate(chunk):
            rows[i] = out[j]
    return torch.stack(rows)
''',
        "no sorting: batches in the given order": '''
def bucketed_forward(forward, sequences, batch_size, pad_id):
    outs = []
    for start in range(0, len(sequences), batch_size):
        chunk = sequences[start:start + batch_size]
        width = max(len(s) for s in chunk)
        ids = torch.full((len(chunk), width), pad_id, dtype=torch.long)
        mask = torch.zeros((len(chunk), width), dtype=torch.long)
        for j, s in enumerate(chunk):
            ids[j, :len(s)] = torch.tensor(s)
            mask[j, :len(s)] = 1
        outs.append(forward(ids, mask))
    return torch.cat(outs)
''',
    },
    'ch06.ex5': {
        "no mask: padded keys are attended to": '''
def sdpa_attention(q, k, v, attention_mask):
    return F.scaled_dot_product_attention(q, k, v)
''',
        "the 0/1 mask added as a float bias": '''
def sdpa_attention(q, k, v, attention_mask):
    return F.scaled_dot_product_attention(q, k, v, attn_mask=attention_mask.to(q.dtype)[:, None, None, :])
''',
    },
    'ch06.ex6': {
        "the articles' loop: weights re-randomized, nll_loss on raw outputs": '''
def fixed_train_step(model, inputs, labels, optimizer):
    for param in model.parameters():
        param.data = torch.randn_like(param.data)
    optimizer.zero_grad()
    outputs = model(inputs)
    loss = F.nll_loss(outputs, labels)
    loss.backward()
    optimizer.step()
    return loss.detach()
''',
        "nll_loss on the raw logits": '''
def fixed_train_step(model, inputs, labels, optimizer):
    optimizer.zero_grad()
    loss = F.nll_loss(model(inputs), labels)
    loss.backward()
    optimizer.step()
    return loss.detach()
''',
        "re-randomizes the weights, then a correct step": '''
def fixed_train_step(model, inputs, labels, optimizer):
    for param in model.parameters():
        param.data = torch.randn_like(param.data)
    optimizer.zero_grad()
    loss = F.cross_entropy(model(inputs), labels)
    loss.backward()
    optimizer.step()
    return loss.detach()
''',
    },
    'ch06.ex7': {
        "the articles' 'hardware acceleration': trains on the data first (model.fit)": '''
def fast_predict(model, batches):
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    for x in batches:
        opt.zero_grad()
        model(x).logsumexp(-1).mean().backward()
        opt.step()
    model.eval()
    with torch.no_grad():
        out = torch.cat([model(x) for x in batches])
    model.train()
    return out
''',
        "forgets eval(): dropout stays on": '''
def fast_predict(model, batches):
    with torch.inference_mode():
        return torch.cat([model(x) for x in batches])
''',
        "keeps autograd on": '''
def fast_predict(model, batches):
    was = model.training
    model.eval()
    out = torch.cat([model(x) for x in batches])
    model.train(was)
    return out
''',
        "leaves the model in eval mode": '''
def fast_predict(model, batches):
    model.eval()
    with torch.inference_mode():
        return torch.cat([model(x) for x in batches])
''',
    },
    'ch06.ex8': {
        "ignores the accuracy floor": '''
def choose_configuration(table, baseline, max_drop_points):
    return min(table, key=lambda name: table[name][0])
''',
        "ties on latency broken by name only": '''
def choose_configuration(table, baseline, max_drop_points):
    floor = table[baseline][1] - max_drop_points / 100
    ok = [(lat, name) for name, (lat, acc) in table.items() if acc >= floor - 1e-9]
    return min(ok)[1]
''',
        "strict comparison: a configuration exactly at the floor is refused": '''
def choose_configuration(table, baseline, max_drop_points):
    floor = table[baseline][1] - max_drop_points / 100
    ok = [(lat, -acc, name) for name, (lat, acc) in table.items() if acc > floor + 1e-9]
    return min(ok)[2]
''',
    },
}
