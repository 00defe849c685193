"""What the numeric-bar exercises (ch02.ex6, ch03.ex8: a plan per matrix, graded on the real teacher; ch04.ex6
and ch05.ex7 use the cached teacher and the test accuracy) share.

The learner's function runs in the grading worker on a copy of the cached teacher with the scan batches
below (the first validation tweets, as each notebook builds them); the grader then applies the plan it
returns with the course's own code and evaluates it on the 2,000 test tweets in its own process.
The teacher is never trained here: without it in the course cache, the case is not gradable.
"""
from __future__ import annotations

import copy
import functools
from typing import Callable

import torch
import torch.nn.functional as F

from utils.grading.spec import CheckFailed, NotGradable, describe

#: Validation tweets a learner's scan may use (the first ones of the split, as in the notebooks).
SCAN_TWEETS = 128


def check_plan_form(plan: object, names: list[str], what: str, valid: Callable[[object], bool], expected: str) -> None:
    """A plan is a dict that gives every name in `names`, and nothing else, a value that `valid` accepts
    (`what` names the value in the messages, `expected` says what an accepted one is)."""
    if not isinstance(plan, dict):
        raise CheckFailed(f"expected a dict {{matrix name: {what}}}, got {describe(plan)}")
    missing, extra = [n for n in names if n not in plan], [k for k in plan if k not in names]
    if missing:
        raise CheckFailed(f"the plan gives no {what} for {len(missing)} of the {len(names)} matrices, "
                          f"e.g. {missing[0]!r}; give every name in `names` one")
    if extra:
        raise CheckFailed(f"the plan names {extra[0]!r}, which is not one of the matrices in `names`")
    for name in names:
        if isinstance(plan[name], bool) or not valid(plan[name]):
            raise CheckFailed(f"{what} for {name!r}: expected {expected}, got {plan[name]!r}")


@torch.no_grad()
def kl_to(model, changed, x: torch.Tensor) -> float:
    """KL(p || q) of the model's predicted distribution p and the changed model's q, averaged over the rows of x."""
    ref = F.log_softmax(model(x), -1)
    return F.kl_div(F.log_softmax(changed(x), -1), ref, log_target=True, reduction="batchmean").item()


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


def teacher_case(matrices: Callable, target: float) -> tuple:
    """The learner's arguments in a real-teacher case: copies of the teacher and of the scan batches (the
    learner's function may change them, and the in-place guard compares them with fresh ones), the names
    `matrices(teacher)` of the matrices to plan, and the target (a sparsity or a bit budget)."""
    teacher, scan, _, _ = teacher_and_data()
    return copy.deepcopy(teacher), [tuple(t.clone() for t in x) for x in scan], matrices(teacher), target


def teacher_test_accuracy(model) -> tuple[float, int]:
    """The accuracy of `model` (the teacher with a plan applied, or a sub-network cut from it) on the test
    tweets, and their number."""
    from utils.train import accuracy, predict

    _, _, test, tok = teacher_and_data()
    return accuracy(predict(model, test, tok), [e.label for e in test]), len(test)
