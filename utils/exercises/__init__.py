"""Exercise specifications, one module per chapter (`ch01.py`, ...), each exposing `EXERCISES`.

Keep these modules light to import: build models and data inside `Case.make`, not at
import time (the grader imports every spec module in each worker process).
"""
