"""``.. click-help:: module:group [command]``: the ``--help`` text of a click command.

A dependency-free stand-in for sphinx-click: the page shows exactly what
``skdce COMMAND --help`` prints (at a fixed width of 100 columns), so the
documented options can never drift from the code.
"""

import importlib

import click
from docutils import nodes
from sphinx.util.docutils import SphinxDirective

WIDTH = 100


def help_text(target: str, command: str | None = None, prog: str = "skdce") -> str:
    module_name, _, attr = target.partition(":")
    group = getattr(importlib.import_module(module_name), attr)
    width = {"terminal_width": WIDTH, "max_content_width": WIDTH}
    ctx = click.Context(group, info_name=prog, **{**group.context_settings, **width})
    if command is None:
        return group.get_help(ctx)
    cmd = group.commands.get(command)
    if cmd is None:
        raise ValueError(f"{target} has no command {command!r}; it has {sorted(group.commands)}")
    sub = click.Context(cmd, info_name=command, parent=ctx, **{**cmd.context_settings, **width})
    return cmd.get_help(sub)


class ClickHelp(SphinxDirective):
    required_arguments = 1
    optional_arguments = 1
    option_spec = {"prog": str}

    def run(self):
        command = self.arguments[1] if len(self.arguments) > 1 else None
        try:
            text = help_text(self.arguments[0], command, self.options.get("prog", "skdce"))
        except Exception as exc:  # an import error or a renamed command must fail the -W build
            raise self.error(f"click-help {' '.join(self.arguments)}: {exc}") from exc
        block = nodes.literal_block(text, text)
        block["language"] = "text"
        return [block]


def setup(app):
    app.add_directive("click-help", ClickHelp)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
