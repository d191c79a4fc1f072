"""``byom convert FILE OUTDIR``: the GGUF / safetensors converters on the command line."""

from __future__ import annotations

from pathlib import Path

import click

__all__ = ["convert_command"]


@click.command("convert")
@click.argument("source", type=click.Path(exists=True, path_type=Path))
@click.argument("out_dir", type=click.Path(file_okay=False, path_type=Path))
@click.option(
    "--dtype",
    type=click.Choice(["float32", "float16"]),
    default="float32",
    show_default=True,
    help="Activation type: float16 is the CUDA variant.",
)
@click.option(
    "--accuracy-level",
    type=click.IntRange(0, 4),
    default=4,
    show_default=True,
    help="MatMulNBits accuracy level written into the graph (4 = int8 activations on CPU).",
)
def convert_command(source: Path, out_dir: Path, dtype: str, accuracy_level: int) -> None:
    """Convert a GGUF file (or a safetensors BERT folder) into an ONNX model folder."""
    from byom_sdk import ConfigError

    try:
        if source.is_dir():
            from ._bert import convert_bert

            convert_bert(source, out_dir)
        else:
            from ._convert import convert_gguf

            convert_gguf(source, out_dir, dtype=dtype, accuracy_level=accuracy_level, progress=None)
    except ConfigError as exc:
        raise click.ClickException(exc.message) from exc
    click.echo(f"wrote {out_dir}")
