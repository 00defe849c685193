"""Known wrong implementations of the exercises of `ch06_kv_cache`: each must score below full marks.

They are test data for the grader's self-test (tests/test_grade.py), kept out of the course package.
"""

MUTANTS = {
    'ch06.ex9': {
        "forgets the batch": '''
def kv_cache_bytes(layers, heads, kv_heads, head_dim, tokens, batch, bytes_per_element):
    return 2 * layers * kv_heads * head_dim * tokens * bytes_per_element
''',
    },
    'ch06.ex10': {
        "forgets the cache reads": '''
def decode_time_lower_bound(weight_bytes, kv_bytes_per_token, prompt_tokens, new_tokens, bandwidth):
    return new_tokens * weight_bytes / bandwidth
''',
        "weights read once for all steps": '''
def decode_time_lower_bound(weight_bytes, kv_bytes_per_token, prompt_tokens, new_tokens, bandwidth):
    return (weight_bytes + sum(kv_bytes_per_token * (prompt_tokens + k) for k in range(new_tokens))) / bandwidth
''',
    },
    'ch06.ex11': {
        "no cache: the whole sequence every step": '''
def greedy_with_cache(model, input_ids, new_tokens):
    ids = input_ids
    for _ in range(new_tokens):
        ids = torch.cat([ids, model(input_ids=ids).logits[:, -1].argmax(-1, keepdim=True)], dim=1)
    return ids
''',
        "one model call too many (a wasted step at the end)": '''
def greedy_with_cache(model, input_ids, new_tokens):
    out = model(input_ids=input_ids, use_cache=True)
    ids = input_ids
    for _ in range(new_tokens):
        next_id = out.logits[:, -1].argmax(-1, keepdim=True)
        ids = torch.cat([ids, next_id], dim=1)
        out = model(input_ids=next_id, past_key_values=out.past_key_values, use_cache=True)
    return ids
''',
        "takes the first position's logits": '''
def greedy_with_cache(model, input_ids, new_tokens):
    out = model(input_ids=input_ids, use_cache=True)
    ids = input_ids
    for step in range(new_tokens):
        next_id = out.logits[:, 0].argmax(-1, keepdim=True)
        ids = torch.cat([ids, next_id], dim=1)
        if step + 1 < new_tokens:
            out = model(input_ids=next_id, past_key_values=out.past_key_values, use_cache=True)
    return ids
''',
        "drops the cache: feeds the new token alone without past_key_values": '''
def greedy_with_cache(model, input_ids, new_tokens):
    out = model(input_ids=input_ids, use_cache=True)
    ids = input_ids
    for step in range(new_tokens):
        next_id = out.logits[:, -1].argmax(-1, keepdim=True)
        ids = torch.cat([ids, next_id], dim=1)
        if step + 1 < new_tokens:
            out = model(input_ids=next_id, use_cache=True)
    return ids
''',
    },
}
