"""The real tools' view of the model (``core.mirrors``): QMP, and whatever mirrors exist.

Every public function of ``core.mirrors`` that takes just the machine is shown, so mirrors
added there (lsmem, sysfs, /proc/meminfo, ...) appear here without a change.
"""
from __future__ import annotations

import html
import inspect
import json

from vmemlab.core import mirrors

from .base import HtmlView
from .markup import pre
from .state import SandboxState


def mirror_functions() -> dict[str, callable]:
    """name -> function(machine) for every public one-argument function of core.mirrors."""
    out = {}
    for name, fn in inspect.getmembers(mirrors, inspect.isfunction):
        if name.startswith("_") or fn.__module__ != mirrors.__name__:
            continue
        required = [p for p in inspect.signature(fn).parameters.values()
                    if p.default is inspect.Parameter.empty and p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
        if len(required) == 1:
            out[name] = fn
    return dict(sorted(out.items(), key=lambda kv: (kv[0] != "qmp_memory_devices", kv[0])))


def render(value) -> str:
    return value if isinstance(value, str) else json.dumps(value, indent=2)


class MirrorsTab(HtmlView):
    """One fold per mirror, the texts as a real VM would print them."""

    def __init__(self, state: SandboxState, **params):
        self.functions = mirror_functions()
        super().__init__(state, **params)

    def update(self) -> None:
        m = self.state.machine
        parts = []
        for i, (name, fn) in enumerate(self.functions.items()):
            doc = (inspect.getdoc(fn) or "").splitlines()[0] if fn.__doc__ else ""
            parts.append(f'<details class="vm-mirror"{" open" if i == 0 else ""}><summary>{name.replace("_", " ")}'
                         f'<span class="vm-doc"> {html.escape(doc)}</span></summary>{pre(render(fn(m)))}</details>')
        self.pane.object = "".join(parts)
