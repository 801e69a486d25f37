"""`polybench tasks`, `polybench models` and `polybench train` (shells over
`polybench.tasks.describe_tasks`, `polybench.models.describe_models` and `polybench.train.fit`)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import typer

from polybench.cli._app import app
from polybench.vocab import BASELINE_LOSS, FAILED, LOSS, METRICS


def parse_assignments(pairs: list[str], flag: str) -> dict[str, Any]:
    """`key=value` strings to a dict; values are read as YAML scalars (2.0, true, [1, 2])."""
    import yaml

    parsed: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise typer.BadParameter(f"expected key=value, got {pair!r}", param_hint=flag)
        try:
            parsed[key.strip()] = yaml.safe_load(value) if value.strip() else None
        except yaml.YAMLError:
            parsed[key.strip()] = value
    return parsed


@app.command("tasks")
def tasks_command(
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table."),
) -> None:
    """List every task with its kind, default training settings and options.

    Example: [bold]polybench tasks[/bold]
    """
    from polybench.cli._output import print_listing
    from polybench.tasks import describe_tasks

    def fill(table: Any, console: Any) -> None:
        for row in rows:
            d = row["defaults"]
            defaults = (
                f"{d['model']}, {d['epochs']} epochs, batch {d['batch_size']}, "
                f"{d['optimizer']} lr {d['lr']:g}"
            )
            options = "\n".join(o["describe"] for o in row["options"])
            table.add_row(
                f"[bold]{row['name']}[/bold]",
                row["kind"],
                row["summary"],
                defaults,
                options,
                end_section=True,
            )

    rows = describe_tasks()
    columns = ("task", "kind", "summary", "defaults", "options")
    print_listing(rows, as_json=as_json, title="polybench tasks", columns=columns, fill=fill)


@app.command("models")
def models_command(
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table."),
) -> None:
    """List every model with the input kind it takes and its options.

    Example: [bold]polybench models[/bold]
    """
    from polybench.cli._output import print_listing
    from polybench.models import describe_models

    def fill(table: Any, console: Any) -> None:
        for row in rows:
            options = "\n".join(o["describe"] for o in row["options"]) or "-"
            table.add_row(row["name"], row["kind"], row["summary"], options, end_section=True)

    rows = describe_models()
    columns = ("model", "kind", "summary", "options")
    print_listing(rows, as_json=as_json, title="polybench models", columns=columns, fill=fill)


@app.command("train")
def train_command(
    task: str = typer.Option(..., "--task", help="Task name (see `polybench tasks`)."),
    model: str = typer.Option(None, "--model", help="Model name; default: the task's."),
    loss: str = typer.Option(BASELINE_LOSS, "--loss", help="Loss name (`polybench losses`)."),
    param: list[str] = typer.Option([], "--param", help="Loss hyperparameter key=value."),
    epochs: int = typer.Option(None, "--epochs", help="Epochs; default: the task's."),
    batch_size: int = typer.Option(None, "--batch-size", help="Batch size; default: task's."),
    lr: float = typer.Option(None, "--lr", help="Learning rate; default: the task's."),
    weight_decay: float = typer.Option(None, "--weight-decay", help="Weight decay."),
    optimizer: str = typer.Option(None, "--optimizer", help="adamw, adam or sgd."),
    schedule: str = typer.Option(None, "--schedule", help="cosine, linear or constant."),
    seed: int = typer.Option(0, "--seed", help="Seed of initialization and batch order."),
    data_seed: int = typer.Option(None, "--data-seed", help="Seed of the data split; default 0."),
    subsample: float = typer.Option(None, "--subsample", help="Fraction (or train size)."),
    imbalance: float = typer.Option(None, "--imbalance", help="Long-tail ratio of train."),
    task_option: list[str] = typer.Option([], "--task-option", help="Task option key=value."),
    model_option: list[str] = typer.Option([], "--model-option", help="Model option k=v."),
    device: str = typer.Option("auto", "--device", help="auto (CUDA when present), cpu, cuda."),
    threads: int = typer.Option(None, "--threads", help="torch CPU threads for this run."),
    as_json: bool = typer.Option(False, "--json", help="Print the result as one JSON object."),
) -> None:
    """Train one model on one task with one loss and print its metrics.

    Example: [bold]polybench train --task digits --model small_cnn --loss poly1_cross_entropy
    --param epsilon=2.0 --epochs 20 --seed 0[/bold]
    """
    from polybench.losses import validate_params
    from polybench.tasks import get_task_spec
    from polybench.train import fit

    try:
        spec = get_task_spec(task)
        flags = {"data_seed": data_seed, "subsample": subsample, "imbalance": imbalance}
        data = _load_task(task, parse_assignments(task_option, "--task-option"), flags)
    except (ValueError, FileNotFoundError) as error:
        raise typer.BadParameter(str(error), param_hint="--task / --task-option") from None
    try:
        loss_params = validate_params(loss, parse_assignments(param, "--param"))
    except ValueError as error:
        raise typer.BadParameter(str(error), param_hint="--loss / --param") from None
    chosen_model = model or spec.defaults.model
    title = f"{task} / {chosen_model} / {loss}"
    with _epoch_progress(title, epochs or spec.defaults.epochs, transient=as_json) as on_epoch:
        try:
            result = fit(
                data,
                chosen_model,
                loss,
                loss_params,
                optimizer=optimizer,
                lr=lr,
                weight_decay=weight_decay,
                schedule=schedule,
                epochs=epochs,
                batch_size=batch_size,
                seed=seed,
                device=device,
                model_params=parse_assignments(model_option, "--model-option"),
                on_epoch=on_epoch,
                threads=threads,
            )
        except ValueError as error:
            raise typer.BadParameter(str(error)) from None
    if as_json:
        typer.echo(json.dumps(result.to_dict(), allow_nan=False))
        return
    _print_summary(result, data.describe())
    if result.state == FAILED:
        raise typer.Exit(code=1)


def _load_task(task: str, options: dict[str, Any], flags: dict[str, Any]) -> Any:
    """Load `task` with its --task-option values and the flags that name an option (given
    both ways, they must agree); the split's seed defaults to 0."""
    from polybench.tasks import load_task

    for name, value in flags.items():
        if value is None:
            continue
        if name in options and options[name] != value:
            flag = "--" + name.replace("_", "-")
            raise ValueError(
                f"{name} is given twice: {flag} {value} and --task-option "
                f"{name}={options[name]}; give one"
            )
        options[name] = value
    options.setdefault("data_seed", 0)
    return load_task(task, **options)


@contextmanager
def _epoch_progress(title: str, total: int, *, transient: bool) -> Iterator[Callable[[Any], None]]:
    """A progress bar on stderr over the run's epochs; yields `fit`'s `on_epoch` for it."""
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TextColumn("epoch {task.completed}/{task.total}"),
        TextColumn("{task.fields[status]}"),
        TimeElapsedColumn(),
        console=Console(stderr=True),
        transient=transient,
    ) as progress:
        bar = progress.add_task(title, total=total, status="")

        def on_epoch(record: Any) -> None:
            status = f"loss {record.train_loss:.4f}  val acc {record.val_accuracy:.4f}"
            progress.update(bar, completed=record.epoch, status=status)

        yield on_epoch


def _print_summary(result, description: str) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"{description}\nstate: {result.state}", title_justify="left")
    table.add_column("metric")
    table.add_column("validation", justify="right")
    table.add_column("test", justify="right")
    for metric in METRICS.values():
        validation, test = result.metrics[metric.val_column], result.metrics[metric.test_column]
        table.add_row(metric.name, f"{validation:.4f}", f"{test:.4f}")
    table.add_row("loss (cross-entropy)", f"{result.metrics[LOSS.val_column]:.4f}", "")
    from polybench.cli._output import print_table

    console = Console()
    print_table(table, console)
    if result.failure_reason:
        console.print(f"[red]failed:[/red] {result.failure_reason}")
    env = result.environment
    console.print(
        f"{result.epochs_done} epochs in {result.wall_time:.1f} s; train "
        f"{result.train_throughput:,.0f} samples/s, eval {result.eval_throughput:,.0f} "
        f"samples/s; {env.device}, torch {env.torch_version}, {env.threads} threads"
    )
