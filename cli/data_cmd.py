"""`ocrq data preview`: a contact sheet of the lines a config would train on."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated, Any

import typer

from cli.config_options import overrides_from_kwargs, with_config_options
from cli.configs import resolve_or_usage_error
from cli.console import UsageError
from store import Store

data_app = typer.Typer(help="Look at the data a config produces.", no_args_is_help=True)


@with_config_options
def preview(
    template: Annotated[
        str | None,
        typer.Option(
            "--template", "-t", help="Template to preview (default quickstart).", show_default=False
        ),
    ] = None,
    config_file: Annotated[
        Path | None,
        typer.Option("--config", help="JSON settings layered over the template.", show_default=False),
    ] = None,
    count: Annotated[int, typer.Option("-n", "--count", help="Lines on the sheet.", min=1, max=512)] = 32,
    split: Annotated[str, typer.Option("--split", help="train | val | test")] = "train",
    pool: Annotated[
        str | None,
        typer.Option(
            "--pool", help="Fonts: train | held_out | all (default: train for the train split, else all)."
        ),
    ] = None,
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", help="PNG path (default: HOME/previews/...).", show_default=False),
    ] = None,
    **kwargs: Any,
) -> None:
    """Write a PNG contact sheet of sample lines with their labels and print its path."""
    if split not in ("train", "val", "test"):
        raise UsageError(f"--split '{split}' is not a split; allowed train, val, test")
    if pool is not None and pool not in ("train", "held_out", "all"):
        raise UsageError(f"--pool '{pool}' is not a font pool; allowed train, held_out, all")
    if split == "train" and pool not in (None, "train"):
        raise UsageError(f"--pool '{pool}' needs --split val or test (the train split only uses train fonts)")
    config = resolve_or_usage_error(template, config_file, overrides_from_kwargs(kwargs))
    if output is not None and output.suffix.lower() != ".png":
        raise UsageError(f"--output '{output}' must end in .png")
    from pipeline.core.charset import Charset
    from pipeline.data.preview import describe_augmentations, write_contact_sheet
    from pipeline.data.synthetic import SyntheticLineDataset

    try:
        charset = Charset.from_spec(config.model.charset)
        dataset = SyntheticLineDataset(
            config.synthetic,
            config.augment,
            charset,
            size=count,
            seed=config.train.seed,
            split=split,
            font_pool=pool,
        )
    except ValueError as error:
        raise UsageError(str(error)) from None
    if output is None:
        output = Store().home / "previews" / f"{config.template}-{split}-{time.strftime('%Y%m%d-%H%M%S')}.png"
    path = write_contact_sheet(dataset, output, n=count)
    typer.echo(str(path))
    pools = dataset.pools
    train_families, held_families = pools.pool_families("train"), pools.pool_families("held_out")
    typer.echo(
        f"train fonts: {len(pools.train)} files of {len(train_families)} families; "
        f"held-out families ({len(held_families)}, {len(pools.held_out)} files, never in the train split): "
        + (", ".join(held_families) or "none"),
        err=True,
    )
    for line in describe_augmentations(config.augment):
        typer.echo(line, err=True)


def register(app: typer.Typer) -> None:
    data_app.command("preview")(preview)
    app.add_typer(data_app, name="data", rich_help_panel="Configure")
