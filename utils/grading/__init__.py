"""The grading engine: exercise specs (`spec`), reading a notebook's code (`source`), worker
processes that run a submission (`worker`), the grader that judges their outputs (`runner`) and
the in-notebook feedback (`check`).

The engine knows no exercise: `utils.exercises` (the course's specs) and `utils.grade` (the
instructor's command) hand it `Exercise` objects. In a notebook use `from utils.exercises import check`.
"""

from utils.grading.spec import (Case, CheckFailed, Exercise, Mistake, NotGradable, expect_close, expect_equal,
                                expect_tensor)

__all__ = ["Case", "CheckFailed", "Exercise", "Mistake", "NotGradable", "expect_close", "expect_equal", "expect_tensor"]
