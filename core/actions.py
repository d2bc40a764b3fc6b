"""The one action registry: every change a user, a lesson or a view can make.

An ``Action`` is a small serialisable value (name + normalised arguments). ``ACTIONS`` lists each
action once with its parameters, help text and key hint; the terminal UI's keys and palette,
the web buttons and scenario steps are all built from it. ``apply`` checks everything that can
be checked *before* touching the machine, so a refused action leaves the model unchanged.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from .device import DeviceConfigError
from .events import Kind
from .machine import Machine
from .memory import CHUNK_SIZE, PAGES_PER_CHUNK, Page, Zone
from .units import PAGE_SIZE, SizeError, format_size, parse_size, shown

REQUIRED = object()
PAGE_KINDS = {"anon": Page.ANON, "cache": Page.CACHE, "kernel": Page.KERNEL, "slab": Page.SLAB}


class ActionError(ValueError):
    """An action that cannot be applied; the message names the field and the allowed values."""


_INT_RE = re.compile(r"[+-]?\d{1,30}", re.ASCII)
_FLOAT_RE = re.compile(r"[+-]?(\d{1,30}(\.\d{0,30})?|\.\d{1,30})([eE][+-]?\d{1,4})?", re.ASCII)


@dataclass(frozen=True)
class Param:
    """One argument of an action: its kind, default and, for numbers, the allowed range.

    Everything a value can be checked against without the machine is checked here, when the
    Action is built; what depends on the machine (a node, a block, a device) is checked by the
    action before it changes anything.
    """

    name: str
    kind: str                      # size | int | float | bool | choice | str
    default: Any = REQUIRED
    choices: tuple = ()
    help: str = ""
    low: float | None = None       # numbers: the smallest allowed value
    high: float | None = None      # numbers: the largest allowed value
    low_open: bool = False         # the smallest allowed value is excluded ("more than 0")
    multiple: int = 0              # sizes: a whole number of these bytes (4K pages, 2M pageblocks)
    unit: str = ""                 # sizes: what ``multiple`` is called ("pages")

    def _num(self, v: float) -> str:
        if self.kind == "size":
            return format_size(int(v))
        return str(int(v)) if float(v).is_integer() else f"{v:g}"

    def allowed(self) -> str:
        """The allowed values in words, for error messages and help."""
        low = "" if self.low is None else (f"more than {self._num(self.low)}" if self.low_open
                                           else self._num(self.low))
        if self.high is None:
            text = f"{low} or more" if not self.low_open else low
        else:
            text = f"{low}, at most {self._num(self.high)}" if self.low_open else f"{low} to {self._num(self.high)}"
        return text + (f" in steps of {format_size(self.multiple)}" if self.multiple else "")

    def parse(self, action: str, value: Any) -> Any:
        where = f"{action}.{self.name}"
        if value is None and self.default is not REQUIRED:
            if self.default is None:
                return None
            value = self.default          # defaults are parsed like user input ("64M" -> bytes)
        try:
            parsed = self._parse(where, value)
        except SizeError as e:
            raise ActionError(str(e)) from None
        except (TypeError, ValueError, OverflowError):
            raise ActionError(f"{where}: {shown(value)} is not a valid {self.kind}"
                              + (f" ({self.help})" if self.help else "")) from None
        if self.multiple and parsed % self.multiple:
            raise ActionError(f"{where}: {format_size(parsed)} is not a whole number of "
                              f"{format_size(self.multiple)} {self.unit}; allowed: {self.allowed()}")
        if self.kind in ("int", "float", "size") and not self._in_range(parsed):
            what = format_size(parsed) if self.kind == "size" else shown(value)
            raise ActionError(f"{where}: {what} is not allowed; allowed: {self.allowed()}")
        return parsed

    def _in_range(self, v: float) -> bool:
        if v != v:                        # NaN
            return False
        if self.low is not None and (v < self.low or (self.low_open and v == self.low)):
            return False
        return self.high is None or v <= self.high

    def _parse(self, where: str, value: Any) -> Any:
        if self.kind == "size":
            return parse_size(value, where)
        if self.kind in ("int", "float"):
            if isinstance(value, bool) or not isinstance(value, (int, float, str)):
                raise ValueError
            if isinstance(value, str):
                text = value.strip()
                if not (_INT_RE if self.kind == "int" else _FLOAT_RE).fullmatch(text):
                    raise ValueError
                value = int(text) if self.kind == "int" else float(text)
            if self.kind == "int":
                if isinstance(value, float):
                    raise ValueError
                return value
            return float(value)
        if self.kind == "bool":
            if isinstance(value, bool):
                return value
            if isinstance(value, (str, int)):
                if str(value).lower() in ("true", "yes", "on", "1"):
                    return True
                if str(value).lower() in ("false", "no", "off", "0"):
                    return False
            raise ValueError
        if self.kind == "choice":
            if not isinstance(value, str) or value not in self.choices:
                raise ActionError(f"{where}: {shown(value)} is not allowed; allowed: "
                                  f"{', '.join(map(str, self.choices))}")
            return value
        if not isinstance(value, str):
            raise ValueError
        return value


@dataclass(frozen=True)
class ActionSpec:
    name: str
    group: str
    help: str
    params: tuple[Param, ...]
    run: Callable[[Machine, dict], None]
    key: str = ""
    settles: bool = True           # in scenario files, settle afterwards unless told not to
    runs_driver: bool = False      # the action *is* the driver running (a Sandbox runs it in slices)
    drastic: bool = False          # reboots or breaks the guest: a view asks before a single key does it


@dataclass(frozen=True)
class Action:
    """One action with normalised arguments; hashable and JSON-friendly."""

    name: str
    args: tuple[tuple[str, Any], ...] = ()

    def arg(self, key: str) -> Any:
        return dict(self.args).get(key)

    def to_dict(self) -> dict:
        out: dict[str, Any] = {"action": self.name}
        for k, v in self.args:
            spec = next(p for p in ACTIONS[self.name].params if p.name == k)
            out[k] = format_size(v) if spec.kind == "size" and v is not None else v
        return out

    def label(self) -> str:
        """Short form for timelines: only the arguments that differ from their defaults."""
        defaults = {p.name: p.default for p in ACTIONS[self.name].params}
        parts = [f"{k}={v}" for k, v in self.to_dict().items()
                 if k != "action" and v is not None and dict(self.args)[k] != defaults[k]]
        return self.name + (" " + " ".join(parts) if parts else "")


def make(name: str, **raw: Any) -> Action:
    """Build a validated Action; unknown names or fields raise ActionError."""
    spec = ACTIONS.get(name) if isinstance(name, str) else None
    if spec is None:
        what = f"{shown(name)} is not known" if isinstance(name, str) else "expected a string"
        raise ActionError(f"action: {what}; allowed: {', '.join(ACTIONS)}")
    known = {p.name for p in spec.params}
    extra = set(raw) - known
    if extra:
        raise ActionError(f"{name}: unknown field {shown(sorted(extra)[0])}; allowed: {', '.join(sorted(known)) or 'none'}")
    args = []
    for p in spec.params:
        value = raw.get(p.name)
        if value is None and p.default is REQUIRED:
            raise ActionError(f"{name}.{p.name}: missing; {p.help or p.kind}")
        args.append((p.name, p.parse(name, value)))
    return Action(name, tuple(args))


def from_dict(d: dict) -> Action:
    """An Action from its ``to_dict`` form (a trace entry); anything else raises ActionError."""
    if not isinstance(d, dict):
        raise ActionError(f"expected an object like {{\"action\": \"settle\"}}, got {shown(d)}")
    d = dict(d)
    name = d.pop("action", None)
    if not isinstance(name, str):
        raise ActionError(f"action: missing or not a string; allowed: {', '.join(ACTIONS)}")
    return make(name, **d)


def apply(machine: Machine, action: Action) -> None:
    """Apply to the machine (events go to machine.pending). Raises ActionError, changing nothing."""
    spec = ACTIONS[action.name]
    try:
        spec.run(machine, dict(action.args))
    except DeviceConfigError as e:
        raise ActionError(str(e)) from None


# ----- helpers ------------------------------------------------------------------------------
def _dev(m: Machine, dev_id: str | None) -> int:
    try:
        return m.device(dev_id)
    except KeyError:
        raise ActionError(f"device: {dev_id!r} does not exist; allowed: {', '.join(d.id for d in m.devices)}") from None


def _block(m: Machine, action: str, sysfs_id: int) -> int:
    mb = m.mem.phys_to_mb.get(sysfs_id)
    if mb is None:
        ranges = [(int(m.mem.mb_phys[s.mb_off]), s.size // m.mem.mb_size) for s in m.mem.segments]
        raise ActionError(f"{action}.block: memory{shown(sysfs_id)} is not guest RAM; allowed: "
                          + ", ".join(f"memory{i} to memory{i + n - 1}" for i, n in ranges))
    return mb


def _chunks_at(m: Machine, addr: int, size: int) -> slice:
    """The 2 MiB chunks of [addr, addr+size): all of it must be online memory (plugged, in an
    online block), the only memory the guest can allocate from."""
    if addr % PAGE_SIZE:
        raise ActionError(f"alloc.addr: {addr:#x} is not aligned to a 4K page")
    mem = m.mem
    end = addr + max(size, 1)
    seg = next((s for s in mem.segments if s.addr <= addr < s.addr + s.size), None)
    if seg is None or end > seg.addr + seg.size:
        raise ActionError(f"alloc.addr: {addr:#x}+{format_size(size)} is not inside guest RAM (all of it in one "
                          "range); allowed: online memory (lsmem shows it)")
    sl = slice(mem.chunk_of_addr(addr), mem.chunk_of_addr(end - 1) + 1)
    offline = np.flatnonzero(~mem.chunk_online[sl])
    if len(offline):
        where = seg.addr + (sl.start + int(offline[0]) - seg.chunk_off) * CHUNK_SIZE
        raise ActionError(f"alloc.addr: {addr:#x}+{format_size(size)} is not all online memory: {len(offline)} of its "
                          f"2 MiB chunks are unplugged or in an offline block (the first at {where:#x}); allowed: "
                          "online memory (lsmem shows it)")
    return sl


def _guest_alive(m: Machine) -> None:
    if m.guest.dead:
        raise ActionError(f"the guest is dead ({m.guest.dead}); reset the VM")


# ----- the actions ------------------------------------------------------------------------
def _request(m: Machine, a: dict) -> None:
    i = _dev(m, a["device"])
    m.devices[i].check_requested_size(a["size"])
    m.set_requested_size(i, a["size"], race=a["race"])


def _resize_by(sign: int) -> Callable[[Machine, dict], None]:
    def run(m: Machine, a: dict) -> None:
        i = _dev(m, a["device"])
        dev = m.devices[i]
        by = a["by"] or m.mem.mb_size
        size = dev.requested_size + sign * by
        if size < 0:
            raise ActionError(f"shrink.by: requested-size would become negative "
                              f"({format_size(dev.requested_size)} - {format_size(by)}); allowed: up to "
                              f"{format_size(dev.requested_size)}")
        dev.check_requested_size(size)
        m.set_requested_size(i, size)
    return run


def _migration(m: Machine, a: dict) -> None:
    on = {"on": True, "off": False, "toggle": not m.devices[0].migrating}[a["on"]]
    m.set_migration(on)


def _node(m: Machine, action: str, node: int | None) -> None:
    if node is not None and not 0 <= node < m.config.nodes:
        raise ActionError(f"{action}.node: {node} does not exist; allowed: 0 to {m.config.nodes - 1} "
                          f"(the VM has {m.config.nodes} NUMA node{'s' if m.config.nodes > 1 else ''})")


def _alloc(m: Machine, a: dict) -> None:
    _guest_alive(m)
    at = _chunks_at(m, a["addr"], a["size"]) if a["addr"] is not None else None
    if at is not None:
        room = int((PAGES_PER_CHUNK - m.mem.used()[at]).sum())
        if room * PAGE_SIZE < a["size"]:
            raise ActionError(f"alloc.addr: {a['addr']:#x}+{format_size(a['size'])} has only "
                              f"{format_size(room * PAGE_SIZE)} free (the kernel would allocate elsewhere); allowed: "
                              "a range with that much free memory")
    _node(m, "alloc", a["node"])
    m.guest.allocate(a["size"], PAGE_KINDS[a["kind"]], a["node"], a["placement"], at)


def _free(m: Machine, a: dict) -> None:
    kind = PAGE_KINDS[a["kind"]]
    pages = None if a["size"] is None else a["size"] // PAGE_SIZE
    n = m.mem.free(kind, pages, m.rng)
    m.emit(Kind.FREE, f"{format_size(n * PAGE_SIZE)} of {a['kind']} pages freed", size=n * PAGE_SIZE)


def _fragment(m: Machine, a: dict) -> None:
    """Unmovable pages in online kernel-zone memory (seeded): grouped by migratetype, or the worst case."""
    _guest_alive(m)
    _node(m, "fragment", a["node"])
    mem = m.mem
    # only where the kernel zones ever lay (a 64 TiB region onlined to ZONE_MOVABLE is not read)
    extents = [mem.zone_extent[z] for z in (Zone.NORMAL, Zone.DMA32) if z in mem.zone_extent]
    lo, hi = (min(e[0] for e in extents), max(e[1] for e in extents)) if extents else (0, 0)
    at = slice(lo, hi)
    kernel = mem.chunk_online[at] & np.isin(mem.chunk_zone[at], (Zone.NORMAL, Zone.DMA32))
    if a["node"] is not None:
        kernel &= mem.chunk_node[at] == a["node"]
    online_pages = int(kernel.sum()) * PAGES_PER_CHUNK
    pages = int(online_pages * a["percent"] / 100)
    free = np.where(kernel, PAGES_PER_CHUNK - mem.used(at), 0)
    cand = np.flatnonzero(free)
    if not len(cand) or pages == 0:
        m.emit(Kind.ALLOC, "fragment: no online kernel-zone memory with free pages (ZONE_MOVABLE never "
               "takes unmovable allocations)")
        return
    if a["spread"] == "grouped":
        before = int(np.count_nonzero(mem.unmovable(at)))
        got = mem.alloc(pages, Page.KERNEL, m.rng, node=a["node"], claim="random")
        touched = int(np.count_nonzero(mem.unmovable(at))) - before
        m.emit(Kind.ALLOC, f"fragment: {format_size(got * PAGE_SIZE)} of unmovable kernel pages scattered over "
               f"{touched} more 2 MiB pageblocks: mobility grouping packs them into pageblocks that already hold "
               "unmovable pages, then claims whole free ones (ZONE_MOVABLE never takes unmovable allocations; "
               "the worst case, spread=worst, puts one page into every pageblock)", size=got * PAGE_SIZE)
        return
    # worst case: one page per chunk first, so that a small percentage already touches many pageblocks
    cand += lo
    first = cand if pages >= len(cand) else np.sort(m.rng.choice(cand, size=pages, replace=False))
    take = np.zeros(hi - lo, dtype=np.int64)
    take[first - lo] = 1
    left = pages - len(first)
    if left > 0:
        room = free[cand - lo] - 1
        extra = mem.spread(min(left, int(room.sum())), room, m.rng, "random")
        take[cand - lo] += extra
    idx = np.flatnonzero(take)
    mem.add_pages(Page.KERNEL, idx + lo, take[idx])
    m.emit(Kind.ALLOC, f"fragment (worst case, not what the buddy allocator does): "
           f"{format_size(int(take.sum()) * PAGE_SIZE)} of unmovable kernel pages "
           f"scattered over {len(idx)} of {len(cand)} free 2 MiB pageblocks in kernel zones "
           "(ZONE_MOVABLE never takes unmovable allocations)", size=int(take.sum()) * PAGE_SIZE)


def _pin(m: Machine, a: dict) -> None:
    """Take short-lived extra references on movable pages (as O_DIRECT or get_user_pages do)."""
    _guest_alive(m)
    mem = m.mem
    holders = np.flatnonzero(mem.movable(slice(None)) > 0)
    if not len(holders):
        raise ActionError("pin: there are no movable pages to pin; allocate anon or cache memory first")
    n = min(len(holders), a["size"] // CHUNK_SIZE)
    chosen = np.sort(m.rng.choice(holders, size=n, replace=False))
    mem.pins[chosen] = a["tries"]
    m.emit(Kind.ALLOC, f"pinned movable pages in {n} pageblocks for the next {a['tries']} migration attempts "
           "each (transient references make alloc_contig_range fail until they drop)")


def _online(m: Machine, a: dict) -> None:
    mb = _block(m, "online", a["block"])
    err = m.guest.online(mb, a["type"], why=f"writing {a['type']} to memory{a['block']}/state")
    if err:
        raise ActionError(f"online: {err}")


def _offline(m: Machine, a: dict) -> None:
    mb = _block(m, "offline", a["block"])
    err = m.guest.offline(mb)
    if err:
        raise ActionError(f"offline: {err}")


def _buggy(m: Machine, a: dict) -> None:
    i = _dev(m, a["device"])
    dev = m.devices[i]
    if a["kind"] == "double_plug" and not dev.bitmap.any():
        raise ActionError("buggy_request.kind: double_plug needs a plugged device block to plug again, and "
                          f"{dev.id} has none; plug memory first (request a size), or use kind misaligned or outside")
    usable = dev.bitmap[:dev.usable_region_size // dev.block_size]
    if a["kind"] == "double_unplug" and usable.all():
        raise ActionError("buggy_request.kind: double_unplug needs an unplugged device block inside the usable "
                          f"region, and every block of {dev.id}'s usable region is plugged; unplug some memory "
                          "first, or use kind misaligned or outside")
    m.inject_request(i, a["kind"])


def _step(m: Machine, a: dict) -> None:
    for _ in range(a["count"]):
        if not m.step():
            m.emit(Kind.DRIVER, "nothing to do: every driver is idle, waiting for its retry timer, blocked "
                   "or broken (advance time to let a retry timer fire)")
            break


def _settle(m: Machine, a: dict) -> None:
    m.settle()


def _advance(m: Machine, a: dict) -> None:
    m.advance(a["seconds"])


def _retry(m: Machine, a: dict) -> None:
    t = m.next_timer()
    if t is None:
        raise ActionError("retry: no retry timer is armed")
    m.advance(t - m.now)


def _note(m: Machine, a: dict) -> None:
    m.emit(Kind.NOTE, a["text"])


def _reset(m: Machine, a: dict) -> None:
    m.reboot(reset_devices=True)


def _kexec(m: Machine, a: dict) -> None:
    m.reboot(reset_devices=False)


def _kdump(m: Machine, a: dict) -> None:
    m.kdump()


def _suspend(m: Machine, a: dict) -> None:
    _guest_alive(m)
    m.suspend(a["state"])


def _hibernate(m: Machine, a: dict) -> None:
    _guest_alive(m)
    m.suspend("disk")


MAX_NB_BLOCKS = 0xFFFF       # a request's nb_blocks is a u16


def _state(m: Machine, a: dict) -> None:
    """One STATE request for a range of device blocks, checked against the request format first."""
    i = _dev(m, a["device"])
    dev = m.devices[i]
    bs = dev.block_size
    size = a["size"] or max(bs, m.mem.mb_size)
    offset = a["offset"]
    if offset % bs or size % bs:
        raise ActionError(f"state: offset {format_size(offset)} and size {format_size(size)} must be multiples of "
                          f"{dev.id}'s block size {format_size(bs)}")
    if size // bs > MAX_NB_BLOCKS:
        raise ActionError(f"state.size: {format_size(size)} is {size // bs} device blocks; one request covers at "
                          f"most {MAX_NB_BLOCKS} (nb_blocks is 16 bits): at most {format_size(MAX_NB_BLOCKS * bs)}")
    if offset + size > dev.region_size:
        raise ActionError(f"state: offset + size ({format_size(offset + size)}) exceeds {dev.id}'s region "
                          f"({format_size(dev.region_size)}); allowed: offset 0 to {format_size(dev.region_size - bs)}")
    m.state_request(i, dev.addr + offset, size // bs)


def _host_memory(m: Machine, a: dict) -> None:
    m.set_host_memory(_dev(m, a["device"]), a["size"])


_DEVICE = Param("device", "str", None, help="device id, e.g. vmem0 (default: the first device)")
MAX_NODES = 8
MAX_ADVANCE = 86400 * 365


def _pages(help: str, default: Any = REQUIRED) -> Param:
    return Param("size", "size", default, help=help, low=PAGE_SIZE, multiple=PAGE_SIZE, unit="pages")

_SIZE_KINDS = tuple(PAGE_KINDS)

ACTIONS: dict[str, ActionSpec] = {s.name: s for s in (
    ActionSpec("request", "host", "Set the device's requested-size (qom-set vmem0 requested-size SIZE)",
               (Param("size", "size", help="a multiple of the device block size, e.g. 1G"), _DEVICE,
                Param("race", "bool", False, help="deliver the config change late, so an in-flight plug gets NACK")),
               _request, key="="),
    ActionSpec("grow", "host", "Raise requested-size by one memory block (or by SIZE)",
               (Param("by", "size", 0, help="how much; default one memory block"), _DEVICE), _resize_by(+1), key="+"),
    ActionSpec("shrink", "host", "Lower requested-size by one memory block (or by SIZE)",
               (Param("by", "size", 0, help="how much; default one memory block"), _DEVICE), _resize_by(-1), key="-"),
    ActionSpec("migration", "host", "Start or stop a live migration (the device answers BUSY meanwhile)",
               (Param("on", "choice", "toggle", ("on", "off", "toggle")),), _migration, key="m"),
    ActionSpec("reset", "host", "System reset: devices unplug everything, the guest reboots", (), _reset, key="R",
               drastic=True),
    ActionSpec("kexec", "host", "kexec into a new kernel: no system reset; its driver resets the device, which "
               "keeps its plugged memory, and unplugs all first",
               (), _kexec, key="K", drastic=True),
    ActionSpec("host_memory", "host", "Limit how much memory the host can back for a device (e.g. free huge pages "
               "of its hugetlbfs pool; with prealloc=on a PLUG beyond it gets BUSY)",
               (_DEVICE, Param("size", "size", None, help="memory the host can back for this device's plugged blocks, "
                                                          "e.g. 1G (default: no limit)")), _host_memory, key="M"),
    ActionSpec("kdump", "guest", "The guest kernel crashes and kdump dumps it: the crash kernel asks the device with "
               "STATE requests which blocks it may read, then the VM reboots", (), _kdump, key="D", drastic=True),
    ActionSpec("suspend", "guest", "Suspend the guest (echo mem or freeze > /sys/power/state); Linux 6.1 refuses "
               "while virtio-mem is in use",
               (Param("state", "choice", "mem", ("mem", "freeze"),
                      help="mem: suspend-to-RAM; freeze: suspend-to-idle"),), _suspend, key="Z"),
    ActionSpec("hibernate", "guest", "Hibernate the guest (echo disk > /sys/power/state); refused while virtio-mem "
               "is in use", (), _hibernate, key="H"),
    ActionSpec("state", "guest", "Ask the device about a range of device blocks with one STATE request "
               "(PLUGGED, UNPLUGGED or MIXED; nothing changes)",
               (_DEVICE, Param("offset", "size", 0, help="start, from the beginning of the device's region"),
                Param("size", "size", 0, help="how much, a multiple of the block size (default: one memory block)")),
               _state, key="x", settles=False),
    ActionSpec("alloc", "guest", "Allocate guest memory (anon/cache are movable, kernel/slab are not)",
               (_pages("how much, e.g. 300M"),
                Param("kind", "choice", "anon", _SIZE_KINDS),
                Param("placement", "choice", "random", ("random", "packed")),
                Param("node", "int", None, help="NUMA node (default: any)", low=0, high=MAX_NODES - 1),
                Param("addr", "size", None, help="guest-physical address to allocate at")), _alloc, key="a"),
    ActionSpec("free", "guest", "Free guest memory of one kind (all of it unless SIZE is given)",
               (Param("kind", "choice", "anon", _SIZE_KINDS), _pages("how much (default: all of it)", None)),
               _free, key="A"),
    ActionSpec("fragment", "guest", "Allocate unmovable kernel pages in online kernel-zone memory",
               (Param("percent", "float", 1.0, help="percent of online kernel-zone memory, e.g. 1", low=0,
                      high=50, low_open=True),
                Param("node", "int", None, help="NUMA node (default: all)", low=0, high=MAX_NODES - 1),
                Param("spread", "choice", "grouped", ("grouped", "worst"),
                      help="grouped: by migratetype into few pageblocks, as the buddy allocator does; "
                           "worst: one page in every pageblock first (an explicit worst case)")), _fragment, key="f"),
    ActionSpec("pin", "guest", "Pin movable pages for a few migration attempts (transient references)",
               (Param("size", "size", "64M", help="how much, in whole 2M pageblocks", low=CHUNK_SIZE,
                      multiple=CHUNK_SIZE, unit="pageblocks"),
                Param("tries", "int", 3, help="migration attempts that fail (the page reference count is 8 bits)",
                      low=1, high=255)), _pin, key="P"),
    ActionSpec("online", "guest", "Write online / online_kernel / online_movable to memoryN/state",
               (Param("block", "int", help="sysfs memory block number N of memoryN", low=0),
                Param("type", "choice", "online", ("online", "online_kernel", "online_movable"))), _online, key="o"),
    ActionSpec("offline", "guest", "Write offline to memoryN/state",
               (Param("block", "int", help="sysfs memory block number N of memoryN", low=0),), _offline, key="O"),
    ActionSpec("buggy_request", "guest", "Make the driver send a request the spec forbids (device answers ERROR)",
               (_DEVICE, Param("kind", "choice", "misaligned", ("misaligned", "outside", "double_plug", "double_unplug"))),
               _buggy, key="E", drastic=True),
    ActionSpec("step", "time", "Let the driver send one more request",
               (Param("count", "int", 1, help="how many requests", low=1, high=Machine.MAX_SETTLE_STEPS),), _step,
               key="space", settles=False),
    ActionSpec("settle", "time", "Run the driver until it is idle, waiting, blocked or broken", (), _settle,
               key="s", settles=False, runs_driver=True),
    ActionSpec("advance", "time", "Let simulated time pass (retry timers fire)",
               (Param("seconds", "float", help="seconds, at most a year", low=0, high=MAX_ADVANCE, low_open=True),),
               _advance, key="t", settles=False),
    ActionSpec("retry", "time", "Jump to the next retry timer and let it fire", (), _retry, key="T", settles=False),
    ActionSpec("note", "lesson", "Narration only: changes nothing", (Param("text", "str"),), _note, settles=False),
)}
