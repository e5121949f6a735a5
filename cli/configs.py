"""`ocrq templates`, `ocrq config show|fields`, `ocrq models`: what can be run, and with which settings."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from cli.config_options import field_default, field_help, overrides_from_kwargs, with_config_options
from cli.console import UsageError, err, out, print_json
from pipeline.config import FLAT_FIELDS, TEMPLATES, ConfigError, resolve_config
from pipeline.config.schema import SECTION_TITLES

config_app = typer.Typer(help="Resolve and inspect experiment configs.", no_args_is_help=True)


def templates(json_: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False) -> None:
    """List the built-in experiment templates, one line each."""
    if json_:
        print_json(
            [
                {"name": t.name, "description": t.description, "overrides": t.overrides}
                for t in TEMPLATES.values()
            ]
        )
        return
    table = Table(box=None, pad_edge=False, show_header=True, header_style="bold")
    table.add_column("template")
    table.add_column("model")
    table.add_column("description", overflow="fold")
    for template in TEMPLATES.values():
        table.add_row(template.name, str(template.overrides.get("model", "crnn_tiny")), template.description)
    out.print(table)


def resolve_or_usage_error(template: str | None, config_file: Path | None, overrides: dict[str, Any]):
    """Resolve a config; a bad template, file, key or value becomes a usage error (exit 2)."""
    try:
        return resolve_config(template, config_file=config_file, overrides=overrides)
    except ConfigError as error:
        raise UsageError(str(error)) from None


@with_config_options
def config_show(
    template: Annotated[
        str | None, typer.Argument(help="Template to start from (default: quickstart).")
    ] = None,
    config_file: Annotated[
        Path | None,
        typer.Option("--config", help="JSON settings layered over the template.", show_default=False),
    ] = None,
    **kwargs: Any,
) -> None:
    """Print the fully resolved config (template <- --config file <- flags) as JSON."""
    config = resolve_or_usage_error(template, config_file, overrides_from_kwargs(kwargs))
    typer.echo(json.dumps(config.to_dict(), indent=2))


def config_fields(json_: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False) -> None:
    """List every config field: section, default and what it allows (each is also an `ocrq run` flag)."""
    rows = [
        {
            "field": key,
            "section": section or "experiment",
            "default": field_default(key),
            "help": field_help(key),
        }
        for key, section in FLAT_FIELDS.items()
    ]
    if json_:
        print_json(rows)
        return
    table = Table(box=None, pad_edge=False, header_style="bold")
    for column in ("field", "section", "default", "help"):
        table.add_column(column, overflow="fold")
    for row in rows:
        table.add_row(
            row["field"],
            SECTION_TITLES.get(row["section"], row["section"]),
            json.dumps(row["default"]),
            escape(row["help"]),
        )
    out.print(table)


def models(
    pattern: Annotated[str, typer.Argument(help="Glob over model names.")] = "*",
    json_: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """List registered recognizers with parameter counts, MACs for a 32x256 line, and the output frames the
    narrowest doubled letters (ll, ii, 11) of the bundled fonts get at each model's stride."""
    from pipeline.config.data_sections import SyntheticDataConfig
    from pipeline.data.frames import MIN_PAIR_FRAMES, narrowest_pair
    from pipeline.models import list_models, model_info

    names = list_models(pattern)
    if not names:
        raise UsageError(f"no model matches '{pattern}'; run `ocrq models` for the list")
    data = SyntheticDataConfig()
    infos = [model_info(name) for name in names]
    for info in infos:
        pair = narrowest_pair(info["width_multiple"], data.image_height, data.width_scale)
        info["narrow_pair_frames"] = round(pair.frames, 2)
        info["narrow_pair"] = f"{pair.pair} in {pair.font}"
    if json_:
        print_json(infos)
        return
    table = Table(box=None, pad_edge=False, header_style="bold")
    for column, justify in (
        ("model", "left"),
        ("params", "right"),
        ("MMACs (32x256)", "right"),
        ("stride", "right"),
        ("frames ll", "right"),
        ("description", "left"),
    ):
        table.add_column(column, justify=justify, overflow="fold")
    for info in infos:
        table.add_row(
            info["name"],
            f"{info['params'] / 1e6:.2f}M",
            f"{info['macs'] / 1e6:.1f}",
            str(info["width_multiple"]),
            f"{info['narrow_pair_frames']:.1f}",
            info.get("description", ""),
        )
    out.print(table)
    worst = min(infos, key=lambda i: i["narrow_pair_frames"])
    err.print(
        f"frames ll: output frames of the narrowest doubled pair of the bundled fonts ({worst['narrow_pair']}) "
        f"at height {data.image_height}, width_scale {data.width_scale} and typical margins; CTC needs >= "
        f"{MIN_PAIR_FRAMES} (letter, blank, letter)"
    )


def register(app: typer.Typer) -> None:
    app.command("templates", rich_help_panel="Configure")(templates)
    app.command("models", rich_help_panel="Configure")(models)
    config_app.command("show")(config_show)
    config_app.command("fields")(config_fields)
    app.add_typer(config_app, name="config", rich_help_panel="Configure")
