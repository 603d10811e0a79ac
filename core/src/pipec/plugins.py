"""Finding plugins: pluggy with the `pipec` entry-point group, checked as they register.

A target or serializer that does not keep the contract (`pipec.contract`) is reported
once, naming the plugin that contributed it, before it can fail far away in a run.

Internal: plugin authors implement the hooks of `pipec.hookspecs` and the types of `pipec.adapter`.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import pluggy

from pipec import hookspecs
from pipec.contract import FEATURES, STORE_FORMATS, Serializer, Target
from pipec.errors import UsageError


@functools.cache
def plugin_manager() -> pluggy.PluginManager:
    pm = pluggy.PluginManager("pipec")
    pm.add_hookspecs(hookspecs)
    pm.load_setuptools_entrypoints("pipec")
    return pm


def _contributions(hook: str) -> list[tuple[str, Any]]:
    """(plugin name, contributed object) for every object a hook's implementations return,
    in the order pluggy calls them (the later-registered plugin first)."""
    pm = plugin_manager()
    found = []
    for impl in getattr(pm.hook, hook).get_hookimpls()[::-1]:
        name = pm.get_name(impl.plugin) or repr(impl.plugin)
        for obj in impl.function():
            found.append((name, obj))
    return found


_TARGET_ATTRIBUTES: dict[str, Callable[[Any], bool]] = {
    "name": lambda v: isinstance(v, str) and bool(v),
    "description": lambda v: isinstance(v, str),
    "capabilities": lambda v: isinstance(v, (set, frozenset)),
    "compile": callable,
    "run": callable,
}


def check_target(plugin: str, target: Any) -> None:
    """A target keeps the contract: its attributes exist with the right kinds, and it
    declares only capabilities pipec knows (a typo would silently refuse pipelines)."""
    missing = [
        attr
        for attr, ok in _TARGET_ATTRIBUTES.items()
        if not hasattr(target, attr) or not ok(getattr(target, attr))
    ]
    label = f"plugin {plugin!r}: target {getattr(target, 'name', target)!r}"
    if missing:
        raise UsageError(
            f"{label} does not implement pipec.adapter.Target: missing or wrong "
            f"{', '.join(missing)}"
        )
    unknown = sorted(set(target.capabilities) - set(FEATURES))
    if unknown:
        raise UsageError(
            f"{label} declares unknown capabilities {unknown}; known: {', '.join(FEATURES)}"
        )


def targets() -> dict[str, Target]:
    """Every registered target by name (a later plugin cannot silently replace one)."""
    found: dict[str, Target] = {}
    for plugin, target in _contributions("pipec_targets"):
        check_target(plugin, target)
        if target.name in found:
            raise UsageError(f"two plugins provide a target named {target.name!r}")
        found[target.name] = target
    return dict(sorted(found.items()))


def target_distributions() -> dict[str, tuple[str, str] | None]:
    """Each registered target's distribution and its version, by target name (what
    `pipec targets` shows); None for one a plugin registered by hand, outside any
    installed distribution."""
    pm = plugin_manager()
    dists = {
        pm.get_name(plugin): (dist.project_name, dist.version)
        for plugin, dist in pm.list_plugin_distinfo()
    }
    return {target.name: dists.get(plugin) for plugin, target in _contributions("pipec_targets")}


def get_target(name: str) -> Target:
    available = targets()
    if name not in available:
        raise UsageError(f"unknown target {name!r}; available: {', '.join(available) or 'none'}")
    return available[name]


def serializers() -> list[Serializer]:
    """Every registered serializer, highest priority first (ties: later-registered plugin first).

    Names must be unique: a stored value is read back by its serializer's name.
    """
    found: dict[str, Serializer] = {}
    for plugin, serializer in _contributions("pipec_serializers"):
        if serializer.name in STORE_FORMATS:
            raise UsageError(
                f"plugin {plugin!r}: serializer name {serializer.name!r} is reserved by the store"
            )
        if serializer.name in found:
            raise UsageError(f"two plugins provide a serializer named {serializer.name!r}")
        found[serializer.name] = serializer
    return sorted(found.values(), key=lambda s: -s.priority)
