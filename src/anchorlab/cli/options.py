"""Click options that several commands share, each defined once. Every function returns a
decorator, so a command lists its options in its own order."""

from __future__ import annotations

import click

BACKENDS = ["local", "ray"]


def int_option(*decls: str, minimum: int, default: int, help: str):
    """An integer option of at least ``minimum`` whose default the help shows."""
    return click.option(
        *decls, type=click.IntRange(min=minimum), default=default, show_default=True, help=help
    )


def workers_option():
    """``--workers``: runs in parallel; None lets the sweep engine take one per core."""
    return click.option(
        "--workers",
        type=click.IntRange(min=1),
        default=None,
        help="Runs in parallel (default: one per CPU core, at most one per run left).",
    )


def threads_option(help: str = "torch threads per run (default: cores / workers)."):
    """``--threads``: torch threads (per run unless ``help`` says otherwise); default None."""
    return click.option("--threads", type=click.IntRange(min=1), default=None, help=help)


def backend_option(default: str | None = "local"):
    """``--backend``: ``local`` or ``ray``. ``default=None`` lets the caller fill it in (from
    a sweep file, then ``local``)."""
    text = (
        "Where runs execute: local, worker processes on this machine; ray, Ray tasks "
        "(pip install 'ray>=2.9')."
    )
    if default is None:
        text += " Default: local."
    return click.option(
        "--backend",
        type=click.Choice(BACKENDS),
        default=default,
        show_default=default is not None,
        help=text,
    )


def ray_address_option():
    """``--ray-address``: the Ray cluster to join; default None."""
    return click.option(
        "--ray-address",
        metavar="auto|HOST:PORT",
        help="Ray cluster to join (Ray backend only); without it --backend ray starts a local "
        "Ray instance.",
    )


def device_option():
    """``--device``: the torch device; default None, the preset's."""
    return click.option("--device", help="cpu, cuda or cuda:N (default: the preset's).")


def set_option(help: str):
    """``--set NAME=VALUE``, repeatable, into the ``assignments`` tuple."""
    return click.option("--set", "assignments", multiple=True, metavar="NAME=VALUE", help=help)
