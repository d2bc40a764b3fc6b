"""Digests of what the model does: proof that a speed-up changed no result.

For a scenario, one digest per step of its events (every field, the explanation text, the time)
and of the model's state after it (pages per chunk and kind, plugged and online chunks, zones,
per-zone counters, memory blocks, memmap placement, devices, drivers, clock, RNG), with arrays
hashed by value (so a narrower dtype hashes the same). Lessons 15-19 add the JSON of
``vmemlab compare`` (the balloon and DIMM models share the guest memory code), and every
recorded trace of the real system (tests/fixtures/oracle) adds its replay's score and report.

``python -m vmemlab.bench.digests --write FILE`` records them; ``--check FILE`` recomputes and
names the first step that differs. ``tests/test_model_digests.py`` checks every lesson and the
benchmark scenarios up to 64 GiB against the digests recorded before the speed-up; ``--big``
adds the 4 TiB benchmark scenarios (minutes before the speed-up, seconds after).
"""
from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path

import numpy as np

from vmemlab.core.runner import run
from vmemlab.core.scenario import Scenario, builtin, lesson_files, load
from vmemlab.core.units import GiB, TiB, format_size

BENCH_SIZES = (1 * GiB, 64 * GiB)
BIG_SIZES = (4 * TiB,)
_PIECE = 1 << 22
ORACLE = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "oracle"   # in a source checkout


def _array(h, a: np.ndarray) -> None:
    a = np.asarray(a)
    h.update(f"{a.shape};".encode())
    flat = a.reshape(-1)
    for i in range(0, len(flat), _PIECE):
        h.update(np.asarray(flat[i:i + _PIECE], dtype=np.int64).tobytes())


def _value(h, v) -> None:
    if isinstance(v, np.ndarray):
        _array(h, v)
    elif isinstance(v, dict):
        h.update(b"{")
        for k in sorted(v, key=repr):
            h.update(repr(k).encode())
            _value(h, v[k])
        h.update(b"}")
    elif isinstance(v, (list, tuple)):
        h.update(b"[")
        for x in v:
            _value(h, x)
        h.update(b"]")
    elif isinstance(v, (np.integer, np.bool_)):
        h.update(repr(int(v)).encode())
    else:
        h.update(repr(v).encode() + b";")


def state_digest(m) -> str:
    """The model's observable state, independent of dtypes, caches and search hints."""
    h = hashlib.blake2b(digest_size=16)
    mem = m.mem
    for name in ("plugged", "chunk_online", "chunk_zone", "chunk_node", "pages", "pins", "mb_present",
                 "mb_online", "mb_zone", "zone_managed", "zone_used", "pcp"):
        h.update(name.encode())
        _array(h, getattr(mem, name))
    _value(h, [list(map(int, mem.used_total)), int(mem.managed_pages), mem.span, mem.zone_present,
               mem.dev_present, mem.boot_present])
    _value(h, {k: (idx, cnt) for k, (idx, cnt) in mem.memmap_of.items()})
    for d in m.devices:
        _value(h, [d.bitmap, d.plugged_size, d.requested_size, d.usable_region_size, d.migrating])
    for drv in m.drivers:
        state = {k: v for k, v in vars(drv).items()
                 if k not in ("guest", "mem", "device", "seg", "run", "sid0")}
        _value(h, state)
        _value(h, None if drv.run is None else vars(drv.run))
    _value(h, [m.clock.t, m.guest.dead, m.rng.bit_generator.state])
    return h.hexdigest()


def events_digest(events) -> str:
    h = hashlib.blake2b(digest_size=16)
    for e in events:
        h.update(repr((e.kind.value, e.text, e.time, e.device, e.memory_block, e.subblock, e.addr, e.size,
                       e.request, e.response)).encode())
    return h.hexdigest()


def scenario_digests(sc: Scenario) -> list[str]:
    """One digest per step: its events, its error, the state and metrics after it."""
    out = []
    for sb, res in run(sc):
        met = sb.machine.metrics()
        out.append(f"{events_digest(res.events)}:{hashlib.blake2b(res.error.encode(), digest_size=4).hexdigest()}:"
                   f"{state_digest(sb.machine)}:{hashlib.blake2b(repr(vars(met)).encode(), digest_size=8).hexdigest()}")
    return out


def compare_digest(sc: Scenario) -> str:
    from vmemlab.core.compare import compare

    return hashlib.blake2b(json.dumps(compare(sc).to_dict(), sort_keys=True, default=str).encode(),
                           digest_size=16).hexdigest()


def bench_scenarios(sizes: tuple[int, ...]) -> dict[str, Scenario]:
    from vmemlab.bench import model

    out = {f"bench {case} {format_size(s)}": model.scenario(case, s) for case in model.CASES for s in sizes}
    if 4 * TiB in sizes:
        out["bench run busy_drain_4t.toml"] = load(str(model.run_file()))
    return out


def oracle_digests(folder: Path, only: str = "") -> dict[str, list[str]]:
    """Each recorded trace of the real system replayed: its score and its whole verbose report."""
    from vmemlab.core import oracle

    out = {}
    for path in sorted(folder.glob("*.json")):
        name = f"oracle {path.stem}"
        if only and only not in name:
            continue
        r = oracle.replay_path(path)
        out[name] = [f"{r.passed}/{r.total}", hashlib.blake2b(oracle.format_report(r, verbose=True).encode(),
                                                            digest_size=16).hexdigest()]
    return out


def all_digests(big: bool = False, only: str = "") -> dict[str, list[str]]:
    """Digests of every lesson, every recorded trace's replay and the benchmark scenarios (4 TiB
    too with ``big``)."""
    scenarios = {name: builtin(name) for name in lesson_files()}
    scenarios.update(bench_scenarios(BENCH_SIZES + (BIG_SIZES if big else ())))
    out: dict[str, list[str]] = oracle_digests(ORACLE, only) if ORACLE.is_dir() else {}
    for name, sc in scenarios.items():
        if only and only not in name:
            continue
        out[name] = scenario_digests(sc)
        if any("compare" in s.expect for s in sc.steps):
            out[name].append("compare:" + compare_digest(sc))
    return out


def differences(recorded: dict[str, list[str]], now: dict[str, list[str]]) -> list[str]:
    """Human-readable differences: the first differing step of each scenario."""
    diffs = []
    for name, steps in now.items():
        old = recorded.get(name)
        if old is None:
            diffs.append(f"{name}: not recorded")
            continue
        for i, (a, b) in enumerate(zip(old, steps)):
            if a != b:
                parts = ("events", "error", "state", "metrics")
                what = [p for p, x, y in zip(parts, a.split(":"), b.split(":")) if x != y]
                diffs.append(f"{name}: step {i + 1} differs ({', '.join(what) or 'compare'})")
                break
        else:
            if len(old) != len(steps):
                diffs.append(f"{name}: {len(steps)} steps, recorded {len(old)}")
    return diffs


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m vmemlab.bench.digests", description=__doc__.splitlines()[0])
    g = p.add_mutually_exclusive_group(required=True)
    g.add_argument("--write", type=Path, help="record the digests into this JSON file")
    g.add_argument("--check", type=Path, help="compare with the digests recorded in this JSON file")
    p.add_argument("--big", action="store_true", help="add the 4 TiB benchmark scenarios")
    p.add_argument("--only", default="", help="only scenarios whose name contains this")
    args = p.parse_args(argv)
    now = all_digests(args.big, args.only)
    if args.write:
        old = json.loads(args.write.read_text()) if args.write.exists() else {}
        old.update(now)
        args.write.write_text(json.dumps(old, indent=1, sort_keys=True) + "\n")
        print(f"recorded {len(now)} scenarios in {args.write}")
        return 0
    diffs = differences(json.loads(args.check.read_text()), now)
    for d in diffs:
        print(d)
    print(f"{len(now)} scenarios, {len(diffs)} differ")
    return 1 if diffs else 0


if __name__ == "__main__":
    sys.exit(main())
