"""The ``skdce`` command line: enhance image files, train, export, evaluate, inspect.

Every command imports onnxruntime, Pillow and torch only when it runs, so
``skdce --help`` and ``skdce --version`` start fast. Library modules never
print or exit; this package does both.

The group :func:`main` lives here; each command family has its own module
(:mod:`~skdce.cli.enhance`, :mod:`~skdce.cli.demo`, :mod:`~skdce.cli.evaluate`,
:mod:`~skdce.cli.info` for models and info, :mod:`~skdce.cli.train` for train
and export, :mod:`~skdce.cli.serve`), the options they share are defined once in ``_options.py``, and
the batch runner of ``skdce enhance`` is ``_batch.py``.
"""

from __future__ import annotations

import sys

import click

from .. import __version__
from . import demo, enhance, evaluate, info, serve, train

__all__ = ["main"]

_CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}

_EXIT_CODES = """
\b
Exit status (every command):
  0    done
  1    some files (or pairs) failed, or the command could not finish
  2    usage error: a bad option or argument; nothing was done
  130  interrupted by Ctrl-C (143: by SIGTERM); only complete files are left
"""


class _Main(click.Group):
    """The ``skdce`` group: SIGTERM becomes KeyboardInterrupt in every command (so temporary files are
    removed), and an interruption exits with 130 (143 for SIGTERM) and one line, where click would print
    "Aborted!" and exit with 1."""

    def main(self, *args, **kwargs):
        # click prints --help and --version itself; a full or closed stdout there is a line too, not a traceback
        from ._errors import stdout_broken, stdout_failed

        try:
            return super().main(*args, **kwargs)
        except OSError as exc:
            if not stdout_broken(exc):
                raise
            error = stdout_failed(exc)
            if isinstance(error, click.ClickException):
                error.show()
            sys.exit(1)

    def invoke(self, ctx):
        from ._batch import interrupts
        from ._errors import EXIT_INTERRUPTED

        with interrupts() as state:
            try:
                return super().invoke(ctx)
            except KeyboardInterrupt:
                click.echo("\nskdce: interrupted; only complete files are left", err=True)
                ctx.exit(EXIT_INTERRUPTED[state["signal"]])


@click.group(cls=_Main, context_settings=_CONTEXT, epilog=_EXIT_CODES)
@click.version_option(__version__, "-V", "--version", prog_name="skdce", message="%(prog)s %(version)s")
def main():
    """skdce: zero-reference low-light image enhancement (Zero-DCE).

    \b
    Examples:
      skdce demo -o demo/                     enhance the bundled sample image
      skdce enhance photos/ -o bright/        enhance every image in a folder
      skdce enhance "shots/**/*.jpg" -o out/ --format png --jobs 2
      skdce evaluate enhanced/ reference/     PSNR/SSIM against references
      skdce models                            the bundled models and their facts
      skdce info                              versions, providers, threads
      skdce serve                             a web page and HTTP API on 127.0.0.1:8000

    Run `skdce COMMAND --help` for the options of a command.
    """


for _command in (enhance.enhance, train.train, train.export, evaluate.evaluate, info.models, info.info, demo.demo,
                 serve.serve):
    main.add_command(_command)
del _command
