"""The plugin contract: hooks a pipec plugin may implement (pluggy project `pipec`).

A plugin is any module or object with `@hookimpl` functions, registered through
the `pipec` entry-point group. The built-in targets are plugins like any other.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:
    from pipec.targets import Target

hookspec = pluggy.HookspecMarker("pipec")
hookimpl = pluggy.HookimplMarker("pipec")


@hookspec
def pipec_targets() -> list[Target]:
    """Targets (engines or output formats) this plugin contributes."""
