"""The real-teacher cases of the numeric-bar exercises (ch02.ex6, ch03.ex8), shared by their spec modules.

The learner's function runs in the grading worker on a copy of the cached teacher with the scan batches
below (the first validation tweets, as each notebook builds them); the grader then applies the plan it
returns with the course's own code and evaluates it on the 2,000 test tweets in its own process.
The teacher is never trained here: without it in the course cache, the case is not gradable.
"""
from __future__ import annotations

import functools

from utils.grading.spec import NotGradable

#: Validation tweets a learner's scan may use (the first ones of the split, as in the notebooks).
SCAN_TWEETS = 128


@functools.lru_cache(maxsize=1)
def teacher_and_data() -> tuple:
    """The cached teacher, the scan batches ((input_ids, attention_mask) pairs of 64 length-sorted tweets),
    the test tweets and the tokenizer; NotGradable if the teacher is not in the course cache."""
    from utils.data import load_tweets
    from utils.models import load_model, load_tokenizer
    from utils.teacher import TEACHER_CONFIG, teacher_path

    path = teacher_path()
    if not path.is_file():
        raise NotGradable(f"the fine-tuned teacher is not in this machine's course cache ({path.name}); "
                          "cache it once with python -c \"from utils.teacher import load_teacher; load_teacher()\" "
                          "(6-10 minutes on 2 cores), then grade again")
    teacher, _ = load_model(path)
    teacher.eval()
    tok = load_tokenizer(TEACHER_CONFIG["max_length"])
    data = load_tweets()
    scan = sorted(data["validation"][:SCAN_TWEETS], key=lambda e: len(e.text))
    batches = [tok.encode([e.text for e in scan[i:i + 64]]) for i in range(0, len(scan), 64)]
    return teacher, batches, data["test"], tok
