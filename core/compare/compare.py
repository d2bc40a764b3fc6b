"""One resize sequence and one guest workload, same seed, through virtio-mem, balloon and DIMM.

``compare(scenario)`` plays a normal scenario three times side by side. Resize steps
(``request``, ``grow``, ``shrink``) become the host's wish for the guest's size: virtio-mem gets
it as ``requested-size``, the balloon inflates or deflates to it, the DIMM host plugs or ejects
whole DIMMs towards it. Workload steps (``alloc``, ``free``, ``fragment``, ``pin``) run unchanged
on each guest. The result is plain data (rows per step, a summary per model) that the command
line, the terminal view and the browser view all render.

``grow``/``shrink`` are taken relative to the host's last wish (also when virtio-mem refused it,
e.g. a size that is not a multiple of its block size), so the three models always get the same
target. Host and guest actions without a counterpart (reset, kexec, migration, sysfs
online/offline, buggy requests) change only virtio-mem; the other two say so in their row.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, Union

from .. import actions as act
from ..actions import Action, ActionError
from ..config import MachineConfig
from ..scenario import Scenario, Step
from ..units import format_size
from .balloon import PLACEMENTS, BalloonVM
from .dimm import ACPI_MAX_RAM_SLOTS, DimmVM, smallest_dimm
from .virtio_mem import VirtioMemVM
from .vm import Area

if TYPE_CHECKING:
    from ..session import Session

RESIZE = ("request", "grow", "shrink")
WORKLOAD = ("alloc", "free", "fragment", "pin")
QUIET = ("note", "step", "settle", "advance", "retry")
MODELS = ("virtio_mem", "balloon", "dimm")
OUTCOMES = ("-", "ok", "rounded", "partial", "failed", "refused")

Model = Union[VirtioMemVM, BalloonVM, DimmVM]


@dataclass(frozen=True)
class CompareOptions:
    """How the two older techniques are set up (virtio-mem comes from the scenario)."""

    dimm_size: int = 0                       # 0: the smallest that reaches maxmem in the slots
    dimm_slots: int = ACPI_MAX_RAM_SLOTS
    balloon_placement: str = "buddy"         # Linux's order; "scattered" is a labelled what-if

    def validate(self) -> None:
        if self.balloon_placement not in PLACEMENTS:
            raise ValueError(f"balloon_placement: {self.balloon_placement!r} is not allowed; "
                             f"allowed: {', '.join(PLACEMENTS)}")


@dataclass
class ModelRow:
    """One model after one step: the numbers of the comparison table."""

    requested: int                 # guest size the host asked for (boot memory + hot-pluggable part)
    reached: int                   # guest size the model got to
    outcome: str                   # - (no resize), ok, rounded (granularity), partial, failed, refused
    detail: str                    # why it fell short, or what it did instead
    mem_total: int
    free_2m_chunks: int            # completely free 2 MiB chunks: THP-able, reportable, unpluggable
    host_thp_split: int            # host huge pages broken up by 4 KiB discards
    memmap: int                    # struct pages paid (boot + hot-added), 64 B per 4 KiB
    slots_used: int                # ACPI memory slots (at most 256)
    nodes: dict[int, int]          # guest memory per NUMA node
    numa_misplaced: int            # bytes added or removed on another node than the host asked


@dataclass
class CompareRow:
    """One scenario step, all three models."""

    step: int
    action: str
    note: str
    requested: int
    requested_nodes: dict[int, int]
    models: dict[str, ModelRow]


@dataclass
class ModelSummary:
    """What a model can do at all, and how it did over the whole run."""

    title: str
    granularity: int
    smallest: int                  # smallest guest size the mechanism can reach
    largest: int                   # largest guest size the mechanism can reach
    numa_aware: bool
    resizes: int = 0
    on_target: int = 0
    unplugs: int = 0               # steps that lowered the size
    unplugs_ok: int = 0
    unplugs_failed: int = 0
    max_thp_split: int = 0
    max_slots_used: int = 0
    final_reached: int = 0
    final_free_2m_chunks: int = 0
    final_memmap: int = 0
    facts: list[str] = field(default_factory=list)


@dataclass
class Comparison:
    """The whole side-by-side run as plain data."""

    title: str
    seed: int
    options: CompareOptions
    rows: list[CompareRow]
    summary: dict[str, ModelSummary]

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        for row in out["rows"]:
            for m in row["models"].values():
                m["nodes"] = {str(k): v for k, v in m["nodes"].items()}
            row["requested_nodes"] = {str(k): v for k, v in row["requested_nodes"].items()}
        return out


class Runner:
    """The three models and the host's current wish, advanced step by step."""

    def __init__(self, config: MachineConfig, options: CompareOptions):
        options.validate()
        self.config = config
        self.options = options
        self.vmem = VirtioMemVM(config)
        devices = self.vmem.machine.devices
        self.targets = [d.requested_size for d in devices]
        self.balloon = BalloonVM(config, [(d.node_id, d.region_size) for d in devices], self.requested,
                                 options.balloon_placement)
        self.dimm = DimmVM(config, tuple(Area(d.id, d.addr, d.region_size, d.node_id) for d in devices),
                           options.dimm_size, options.dimm_slots)
        self.models: dict[str, Model] = {"virtio_mem": self.vmem, "balloon": self.balloon, "dimm": self.dimm}
        self.vmem.machine.settle()
        for i in range(len(devices)):
            self.dimm.resize(i, self.targets[i])
        self.summary = {name: _facts(m, config) for name, m in self.models.items()}

    # ----- the host's wish ---------------------------------------------------------------------
    @property
    def requested(self) -> int:
        return self.config.boot_memory + sum(self.targets)

    def requested_nodes(self) -> dict[int, int]:
        cfg = self.config
        out = {n: cfg.boot_memory // cfg.nodes for n in range(cfg.nodes)}
        for d, t in zip(self.vmem.machine.devices, self.targets):
            out[d.node_id] += t
        return out

    def _new_target(self, action: Action) -> tuple[int, int]:
        """(device index, new hot-pluggable size) for a resize action; ActionError if impossible."""
        devices = self.vmem.machine.devices
        dev_id = action.arg("device")
        idx = next((i for i, d in enumerate(devices) if dev_id in (None, d.id)), None)
        if idx is None:
            raise ActionError(f"device: {dev_id!r} does not exist; allowed: {', '.join(d.id for d in devices)}")
        if action.name == "request":
            size = action.arg("size")
        else:
            by = action.arg("by") or self.config.mb_size
            size = self.targets[idx] + (by if action.name == "grow" else -by)
        region = devices[idx].region_size
        if not 0 <= size <= region:
            raise ActionError(f"{action.name}: the guest would need {format_size(size)} of hot-pluggable memory; "
                              f"allowed: 0 to {format_size(region)} (maxmem of {devices[idx].id})")
        return idx, size

    def _resize_others(self, idx: int) -> dict[str, str]:
        """Bring the balloon and device ``idx``'s DIMMs to the targets; returns why each fell short."""
        return {"balloon": self.balloon.resize(self.requested), "dimm": self.dimm.resize(idx, self.targets[idx])}

    # ----- one step ------------------------------------------------------------------------------
    def play(self, step: Step) -> CompareRow:
        before = {name: m.size for name, m in self.models.items()}
        action = step.action
        errors: dict[str, str] = {}
        details: dict[str, str] = {}
        resized = action.name in RESIZE
        if resized:
            try:
                idx, size = self._new_target(action)
            except ActionError as e:
                errors = {name: str(e) for name in self.models}
            else:
                self.targets[idx] = size
                device = self.vmem.machine.devices[idx].id
                errors["virtio_mem"] = self._apply_vmem(
                    act.make("request", size=size, device=device, race=action.arg("race") or False), step.settle)
                details.update(self._resize_others(idx))
        else:
            errors["virtio_mem"] = self._apply_vmem(action, step.settle)
            for name in ("balloon", "dimm"):
                vm = self.models[name].vm
                if action.name in WORKLOAD:
                    try:
                        act.ACTIONS[action.name].run(vm, dict(action.args))
                    except ActionError as e:
                        errors[name] = str(e)
                elif action.name not in QUIET:
                    details[name] = f"'{action.name}' has no {self.models[name].title} counterpart here"
                vm.take_events()
        self.vmem.machine.take_events()
        details["virtio_mem"] = self.vmem.status()
        rows = {name: self._row(m, resized, before[name], errors.get(name, ""), details.get(name, ""))
                for name, m in self.models.items()}
        for name, row in rows.items():
            _tally(self.summary[name], row, before[name], resized)
        return CompareRow(step.index, action.label(), step.note, self.requested, self.requested_nodes(), rows)

    def _apply_vmem(self, action: Action, settle: bool) -> str:
        try:
            self.vmem.apply(action, settle)
        except ActionError as e:
            return str(e)
        return ""

    def _row(self, m: Model, resized: bool, before: int, error: str, detail: str) -> ModelRow:
        asked = self.requested_nodes()
        nodes = m.node_sizes()
        if error:
            outcome = "refused"
        elif not resized:
            outcome = "-"
        elif m.size == self.requested:
            outcome = "ok"
        elif not detail and abs(m.size - self.requested) < m.granularity:
            outcome, detail = "rounded", f"{m.title} resizes in {format_size(m.granularity)} steps"
        else:
            outcome = "failed" if m.size == before else "partial"
        off = sum(abs(nodes.get(n, 0) - asked[n]) for n in asked) - abs(m.size - self.requested)
        return ModelRow(self.requested, m.size, outcome, error or detail, m.mem.mem_total, m.mem.free_chunks_2m(),
                        m.host_thp_split(), m.memmap, m.slots_used(), nodes, off // 2)

    def boot_row(self) -> CompareRow:
        rows = {name: self._row(m, False, m.size, "", "") for name, m in self.models.items()}
        for name, row in rows.items():
            _tally(self.summary[name], row, row.reached, False)
        return CompareRow(0, "boot", "", self.requested, self.requested_nodes(), rows)


def _facts(m: Model, cfg: MachineConfig) -> ModelSummary:
    """What each technique can do at all, before anything runs."""
    if isinstance(m, VirtioMemVM):
        return ModelSummary(m.title, m.granularity, m.boot_size, m.max_size, True, facts=[
            "grows and shrinks in subblocks inside its own region; boot memory is never touched",
            "emptied memory blocks are removed, and their memmap with them",
            "one device per NUMA node: memory comes and goes exactly where the host asks"])
    if isinstance(m, BalloonVM):
        return ModelSummary(m.title, m.granularity, 0, m.max_size, False, facts=[
            f"the VM boots with all {format_size(m.max_size)} and pays its memmap "
            f"({format_size(m.memmap)}) forever; it can never grow beyond that",
            "inflation allocates movable 4 KiB pages from the buddy allocator, the smallest free pieces "
            "first: on a fresh guest whole 2 MiB blocks, on one whose free memory is in pieces parts of "
            "many, and every 2 MiB block only partly in the balloon splits a huge page on the host",
            "never empties a memory block, so no memmap is ever freed; it may take boot memory too "
            "(smallest size = what the guest uses)",
            f"not NUMA-aware: it takes pages on the node its worker runs on (modelled: node {m.worker_node}) "
            "first, whichever node the host wanted smaller"])
    return ModelSummary(m.title, m.granularity, m.vm.boot_size, m.max_size, True, facts=[
        f"growing by {format_size(sum(a.size for a in m.vm.areas))} in {m.slots} ACPI slots needs DIMMs of at "
        f"least {format_size(smallest_dimm(sum(a.size for a in m.vm.areas), m.slots, cfg.mb_size))}; "
        f"this host uses {format_size(m.dimm_size)}",
        "unplug is all-or-nothing per DIMM: one unmovable page in any of its blocks fails the eject",
        f"onlined per the guest's policy ({cfg.online_policy}, auto_online_blocks={cfg.auto_online_blocks})"])


def _tally(s: ModelSummary, row: ModelRow, before: int, resized: bool) -> None:
    if resized and row.outcome != "refused":
        s.resizes += 1
        s.on_target += row.outcome == "ok"
        if row.requested < before:
            s.unplugs += 1
            s.unplugs_ok += row.outcome == "ok"
            s.unplugs_failed += row.outcome == "failed"
    s.max_thp_split = max(s.max_thp_split, row.host_thp_split)
    s.max_slots_used = max(s.max_slots_used, row.slots_used)
    s.final_reached = row.reached
    s.final_free_2m_chunks = row.free_2m_chunks
    s.final_memmap = row.memmap


def compare(scenario: Scenario, options: CompareOptions | None = None) -> Comparison:
    """Play ``scenario`` through all three models; row 0 is the state right after boot."""
    options = options or CompareOptions()
    runner = Runner(scenario.config, options)
    rows = [runner.boot_row()]
    rows += [runner.play(step) for step in scenario.steps]
    return Comparison(scenario.title, scenario.config.seed, options, rows, runner.summary)


def compare_session(session: "Session", options: CompareOptions | None = None) -> Comparison:
    """What a view's session did (lesson steps and the user's own actions), side by side."""
    return compare_actions(session.scenario.config, session.sandbox.actions(), options)


def compare_actions(config: MachineConfig, actions: list[Action],
                    options: CompareOptions | None = None) -> Comparison:
    """The same for a session's action log (user actions, no lesson around them)."""
    steps = [Step(i, a) for i, a in enumerate(actions, start=1)]
    return compare(Scenario("session", "", config, steps), options)
