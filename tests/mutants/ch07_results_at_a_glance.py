"""Known wrong implementations of the exercise of `ch07_results_at_a_glance`: each must score below full marks.

Test data for the grader's self-test (tests/test_grade.py); the spec's own `mistakes` are added to these
by tests/course_fixtures.py.
"""

MUTANTS = {
    "ch07.ex7": {
        "latency measured from the batch's start, not the request's arrival": '''
def batch_latencies(arrivals_ms, batch_size, service_ms):
    out, free = [], 0.0
    for start in range(0, len(arrivals_ms), batch_size):
        group = arrivals_ms[start:start + batch_size]
        begin = max(group[-1], free)
        free = begin + service_ms[len(group) - 1]
        out.extend(free - begin for _ in group)
    return out
''',
    },
}
