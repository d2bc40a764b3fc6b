"""The comparison as rows of text cells: one layout for the command line, the TUI and the web.

Sizes are printed exactly (``format_size``: "1324M"), counts as numbers; the first row of each
table is its header.
"""
from __future__ import annotations

from typing import Callable

from ..units import MiB, format_size, human
from .compare import MODELS, CompareRow, Comparison, ModelRow

TITLES = {"virtio_mem": "virtio-mem", "balloon": "virtio-balloon", "dimm": "ACPI DIMM"}
Table = list[list[str]]


def size(n: int) -> str:
    """Exact when it is whole MiB ("1324M"), rounded otherwise ("64.2 GiB")."""
    return format_size(n) if n % MiB == 0 else human(n)


def _nodes(sizes: dict[int, int]) -> str:
    return " ".join(f"{n}:{size(s)}" for n, s in sorted(sizes.items()))


STEP_LINES: tuple[tuple[str, Callable[[ModelRow], str]], ...] = (
    ("guest size", lambda m: size(m.reached)),
    ("outcome", lambda m: m.outcome),
    ("MemTotal", lambda m: format_size(m.mem_total)),
    ("free 2 MiB chunks", lambda m: str(m.free_2m_chunks)),
    ("host huge pages split", lambda m: str(m.host_thp_split)),
    ("memmap paid", lambda m: format_size(m.memmap)),
    ("ACPI slots used", lambda m: str(m.slots_used)),
)
NUMA_LINES: tuple[tuple[str, Callable[[ModelRow], str]], ...] = (
    ("size per node", lambda m: _nodes(m.nodes)),
    ("on the wrong node", lambda m: size(m.numa_misplaced)),
)


def step_table(row: CompareRow) -> Table:
    """Metric per line, one column per model, for one step."""
    models: list[ModelRow] = [row.models[name] for name in MODELS]
    lines = STEP_LINES + (NUMA_LINES if len(row.requested_nodes) > 1 else ())
    table = [[f"asked {size(row.requested)}"] + [TITLES[name] for name in MODELS]]
    table += [[label] + [cell(m) for m in models] for label, cell in lines]
    return table


def step_details(row: CompareRow) -> list[str]:
    """Why a model fell short or refused, one line per model that has something to say."""
    return [f"{TITLES[name]}: {m.detail}" for name, m in row.models.items() if m.detail]


def summary_table(c: Comparison) -> Table:
    """What each technique can do, and how it did over the whole run."""
    s = [c.summary[name] for name in MODELS]
    rows = [
        ("granularity", lambda x: format_size(x.granularity)),
        ("smallest size", lambda x: format_size(x.smallest) if x.smallest else "what the guest uses"),
        ("largest size", lambda x: format_size(x.largest)),
        ("resizes on target", lambda x: f"{x.on_target}/{x.resizes}"),
        ("shrinks ok/failed", lambda x: f"{x.unplugs_ok}/{x.unplugs_failed} of {x.unplugs}"),
        ("final size", lambda x: size(x.final_reached)),
        ("final free 2 MiB chunks", lambda x: str(x.final_free_2m_chunks)),
        ("most host huge pages split", lambda x: str(x.max_thp_split)),
        ("memmap paid at the end", lambda x: format_size(x.final_memmap)),
        ("most ACPI slots used", lambda x: str(x.max_slots_used)),
        ("NUMA-aware", lambda x: "yes" if x.numa_aware else "no"),
    ]
    return [["summary"] + [TITLES[name] for name in MODELS]] + [[label] + [f(x) for x in s] for label, f in rows]


def render(table: Table, indent: str = "  ") -> str:
    """Aligned plain text: first column left, the others right."""
    widths = [max(len(r[c]) for r in table) for c in range(len(table[0]))]
    return "\n".join(indent + "  ".join(cell.ljust(w) if c == 0 else cell.rjust(w)
                                        for c, (cell, w) in enumerate(zip(r, widths))).rstrip() for r in table)
