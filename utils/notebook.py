"""What every notebook does first, in one call: ``device = start_notebook()``. (How a notebook goes on
after an exercise the learner has not solved is ``utils.exercises.solved_or_reference``.)

It seeds every random generator (``utils.train.set_seed``), applies the course's plot style,
picks the device (CUDA when present, else CPU; ``COURSE_DEVICE`` overrides) and prints one
line naming it, so a reader knows where the figures below were computed.
"""
from __future__ import annotations

import torch

from utils.plots import use_course_style
from utils.train import pick_device, set_seed

__all__ = ["start_notebook"]


def start_notebook(seed: int = 0) -> torch.device:
    """Seed, style and device for a notebook; prints the device line and returns the device."""
    set_seed(seed)
    use_course_style()
    device = pick_device()
    where = torch.cuda.get_device_name(device) if device.type == "cuda" else "CPU"
    print(f"Running on {device.type} ({where}), torch {torch.__version__.split('+')[0]}, seed {seed}.")
    return device
