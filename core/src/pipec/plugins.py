"""Finding plugins: pluggy with the `pipec` entry-point group."""

from __future__ import annotations

import functools

import pluggy

from pipec import hookspecs
from pipec.errors import UsageError
from pipec.store.serializers import STORE_FORMATS, Serializer
from pipec.targets import Target


@functools.cache
def plugin_manager() -> pluggy.PluginManager:
    pm = pluggy.PluginManager("pipec")
    pm.add_hookspecs(hookspecs)
    pm.load_setuptools_entrypoints("pipec")
    return pm


def targets() -> dict[str, Target]:
    """Every registered target by name (a later plugin cannot silently replace one)."""
    found: dict[str, Target] = {}
    for contributed in plugin_manager().hook.pipec_targets():
        for target in contributed:
            if target.name in found:
                raise UsageError(f"two plugins provide a target named {target.name!r}")
            found[target.name] = target
    return dict(sorted(found.items()))


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
    for contributed in plugin_manager().hook.pipec_serializers():
        for serializer in contributed:
            if serializer.name in STORE_FORMATS:
                raise UsageError(f"serializer name {serializer.name!r} is reserved by the store")
            if serializer.name in found:
                raise UsageError(f"two plugins provide a serializer named {serializer.name!r}")
            found[serializer.name] = serializer
    return sorted(found.values(), key=lambda s: -s.priority)
