"""Classification tasks users pick by name: `TASKS` registry and `load_task`.

A task yields train / validation / test splits (fixed by `data_seed`; stratified where the data
set has no official split), its number of classes, its input kind (image or text) and class
names. Every task accepts `subsample`, `imbalance` (long-tailed training split) and
`label_noise` (flipped training labels, validation and test clean); text tasks accept tokenizer
options. See `polybench tasks` for the list with options.

>>> from polybench.tasks import load_task
>>> task = load_task("digits", data_seed=0)
>>> task.kind, task.num_classes, tuple(task.train.x.shape[1:])
('image', 10, (1, 8, 8))
"""

from polybench.settings import Option, validate_options
from polybench.tasks import _builtin, _files, _torchvision  # noqa: F401  (registers tasks)
from polybench.tasks._data import Split, TaskData, TrainDefaults, long_tail_counts
from polybench.tasks._noise import NOISE_KINDS, LabelNoise, asymmetric_targets, flip_labels
from polybench.tasks._registry import (
    TASKS,
    TaskSpec,
    clear_cache,
    describe_tasks,
    get_task_spec,
    load_raw_splits,
    load_task,
    register,
    validate_task_options,
)
from polybench.tasks._text import SPECIALS, TOKENIZERS, tokenize

__all__ = [
    "NOISE_KINDS",
    "SPECIALS",
    "TASKS",
    "TOKENIZERS",
    "LabelNoise",
    "Option",
    "Split",
    "TaskData",
    "TaskSpec",
    "TrainDefaults",
    "asymmetric_targets",
    "clear_cache",
    "describe_tasks",
    "flip_labels",
    "get_task_spec",
    "load_raw_splits",
    "load_task",
    "long_tail_counts",
    "register",
    "tokenize",
    "validate_options",
    "validate_task_options",
]
