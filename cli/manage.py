"""`ocrq tag`, `ocrq note`, `ocrq rm`, `ocrq restore`: organise experiments."""

from __future__ import annotations

from typing import Annotated

import typer

from cli.console import UsageError, has_control_chars, info, refuse_control_chars, terminal_safe
from cli.resolve import resolve, resolve_all
from store import Store


def check_tags(tags: list[str]) -> None:
    """A usage error for a tag that is empty, holds spaces, commas or control characters."""
    for name in tags:
        if not name.strip() or any(c.isspace() for c in name) or "," in name or has_control_chars(name):
            raise UsageError(
                f"tag '{terminal_safe(name)}' is not allowed; tags are non-empty words without spaces, "
                "commas or control characters"
            )


def tag(
    ref: Annotated[str, typer.Argument(help="Experiment id, prefix or name.")],
    add: Annotated[list[str] | None, typer.Argument(help="Tags to add.", show_default=False)] = None,
    remove: Annotated[
        list[str] | None,
        typer.Option("--remove", "-r", help="Tag to remove (repeatable).", show_default=False),
    ] = None,
) -> None:
    """Add or remove tags; prints the experiment's tags."""
    check_tags(add or [])  # removing stays possible for any tag, so an old bad one can be cleaned up
    store = Store()
    exp_id = resolve(store, ref)
    tags = store.tag(exp_id, add=add or [], remove=remove or [])
    typer.echo(" ".join(terminal_safe(t) for t in tags) if tags else "(no tags)")


def note(
    ref: Annotated[str, typer.Argument(help="Experiment id, prefix or name.")],
    text: Annotated[str, typer.Argument(help="The note ('' clears it).")],
) -> None:
    """Set the experiment's note."""
    # Newlines and tabs are fine in a note (shown escaped); escape sequences and other controls are not.
    refuse_control_chars("note", text.replace("\n", " ").replace("\t", " "))
    store = Store()
    store.set_note(resolve(store, ref), text)


def rm(
    refs: Annotated[list[str], typer.Argument(help="Experiment ids, prefixes or names.")],
    permanent: Annotated[
        bool, typer.Option("--permanent", help="Delete the folder and its artifacts for good.")
    ] = False,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
) -> None:
    """Delete experiments (soft by default: `ocrq restore` brings them back)."""
    store = Store()
    ids = resolve_all(store, refs)
    for exp_id in ids:
        if store.get(exp_id)["status"] == "running":
            raise UsageError(f"experiment {exp_id} is running; stop it before deleting")
    if permanent and not yes:
        if not typer.confirm(
            f"Permanently delete {len(ids)} experiment(s) and their artifacts?", default=False, err=True
        ):
            info("nothing deleted")
            raise typer.Exit(1)
    for exp_id in ids:
        if permanent:
            store.delete_permanently(exp_id)
        else:
            store.soft_delete(exp_id)
    verb = "permanently deleted" if permanent else "deleted (ocrq restore ID undoes it)"
    info(f"{verb}: {' '.join(i[:8] for i in ids)}")


def restore(refs: Annotated[list[str], typer.Argument(help="Experiment ids, prefixes or names.")]) -> None:
    """Bring back soft-deleted experiments."""
    store = Store()
    ids = resolve_all(store, refs)
    for exp_id in ids:
        store.restore(exp_id)
    info(f"restored: {' '.join(i[:8] for i in ids)}")


def register(app: typer.Typer) -> None:
    app.command("tag", rich_help_panel="Organise")(tag)
    app.command("note", rich_help_panel="Organise")(note)
    app.command("rm", rich_help_panel="Organise")(rm)
    app.command("restore", rich_help_panel="Organise")(restore)
