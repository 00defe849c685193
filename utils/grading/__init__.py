"""Exercise specs, immediate checks in notebooks, and the instructor's grader.

In a notebook: `from utils.grading import check` then `check("ch01.ex1", my_function)`.
Instructors: `python -m utils.grade SUBMISSIONS/ --csv grades.csv` (see instructor-guide.md).
"""

from utils.grading.check import check
from utils.grading.spec import Case, CheckFailed, Exercise, expect_close, expect_equal, expect_tensor

__all__ = ["Case", "CheckFailed", "Exercise", "check", "expect_close", "expect_equal", "expect_tensor"]
