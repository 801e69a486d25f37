"""The loss registry: name -> class, and the functions that read it.

`LOSSES` is filled by the `@register` decorator in `_modules.py`; the CLI (`polybench losses`),
the study runner and the tests all read it, so a new loss is one class plus one decorator.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, TypeVar

from polybench.registry import Registry
from polybench.settings import clean_params

if TYPE_CHECKING:
    from polybench.losses._modules import Loss

LOSSES: Registry[type[Loss]] = Registry("loss", plugins="loss")

LossClass = TypeVar("LossClass", bound="type[Loss]")


def register(cls: LossClass) -> LossClass:
    """Class decorator: add `cls` to `LOSSES` under `cls.name` (again with the same class: no-op).

    Plug-in losses use it too: `@polybench.losses.register` on a `Loss` subclass.
    """
    LOSSES.add(cls.name, cls)
    return cls


def get_loss_class(name: str) -> type[Loss]:
    """The class registered as `name`.

    Raises:
        ValueError: for an unknown name, with the closest registered names.
    """
    return LOSSES.lookup(name)


def validate_params(name: str, params: dict[str, Any]) -> dict[str, Any]:
    """Check hyperparameters for loss `name`; return them cleaned (numbers as float, lists).

    Only the given keys are returned (defaults are not filled in), so the result can be stored
    as the run's params.

    Raises:
        ValueError: naming the loss, the parameter, the value and what is allowed.
    """
    cls = get_loss_class(name)
    return clean_params(name, cls.hyperparams, dict(params))


def build_loss(name: str, **params: Any) -> Loss:
    """Build the loss registered as `name`; call it as `loss(logits, target)`.

    >>> import torch
    >>> loss = build_loss("poly1_cross_entropy", epsilon=2.0)
    >>> loss(torch.zeros(4, 10), torch.tensor([0, 1, 2, 3])).shape
    torch.Size([])
    """
    return get_loss_class(name)(**params)


def describe_losses() -> list[dict[str, Any]]:
    """Every registered loss with its hyperparameters, as JSON-ready dicts (`polybench losses`).

    Losses of installed plug-ins (entry point group `polybench.losses`) are included.
    """
    from polybench.plugins import load_entry_points

    load_entry_points("loss")
    rows = []
    for name, cls in LOSSES.items():
        rows.append(
            {
                "name": name,
                "class": cls.__name__,
                "summary": cls.summary,
                "hyperparams": [
                    {
                        "name": hp.name,
                        "default": list(hp.default)
                        if isinstance(hp.default, tuple)
                        else hp.default,
                        "kind": hp.kind,
                        "low": hp.low,
                        "high": hp.high,
                        "range": hp.range_text(),
                        "allowed": hp.allowed(),
                        "optional": hp.optional,
                        "tunable": hp.tunable,
                        "search_low": hp.search_low,
                        "search_high": hp.search_high,
                        "log": hp.log,
                        "help": hp.help,
                    }
                    for hp in cls.hyperparams
                ],
            }
        )
    return rows
