"""The course's shared code: data, models, training, measurement, plots and grading.

Each chapter notebook writes its technique from scratch and calls this package for
plumbing (loading the pretrained encoder and the tweet data, the fine-tune loop,
timing and size measurements, plots, and the exercise checks).
"""

__version__ = "0.1.0"
