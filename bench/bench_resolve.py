"""Catalog load time and resolution throughput, against the targets of issue 6.

    .venv/bin/python -m bench.bench_resolve [--apps 10000] [--seed 7] [--repeat 3]

Prints each figure (the best of ``--repeat`` cold runs, so other processes on the machine do
not decide the verdict) with its target and PASS or MISS; exits 1 on a MISS. The raw apps mimic a
mid-size tenant: most are catalog products under varied spellings (case, legal suffixes, typos,
"for Gmail" add-ons), some come with a vendor domain or a Microsoft / Google first-party ID, some
are card-statement merchant strings, and a quarter are names no catalog knows.
"""

from __future__ import annotations

import argparse
import random
import string
import time

from scanner.analysis.catalog import Catalog
from scanner.analysis.resolve import Resolver
from scanner.analysis.text import normalise_name
from scanner.core.models import RawApp

LOAD_TARGET_MS = 200.0
RESOLVE_TARGET_S = 1.0
SOURCES = ("entra", "google", "okta")


def spell(rng: random.Random, name: str) -> str:
    variant = rng.randrange(6)
    if variant == 0:
        return name.upper()
    if variant == 1:
        return f"{name}, Inc."
    if variant == 2 and len(name) > 6:
        cut = rng.randrange(1, len(name) - 1)
        return name[:cut] + name[cut + 1 :]
    if variant == 3:
        return f"{name} for Gmail"
    if variant == 4:
        return name.lower()
    return name


def raw_apps(catalog: Catalog, count: int, seed: int) -> list[RawApp]:
    rng = random.Random(seed)
    entries = list(catalog.entries)
    microsoft_ids = list(catalog.microsoft_apps)
    apps: list[RawApp] = []
    for i in range(count):
        source = rng.choice(SOURCES)
        client_id = f"{source}-{i:06d}"
        roll = rng.random()
        entry = rng.choice(entries)
        if roll < 0.45:
            apps.append(
                RawApp(source, client_id, spell(rng, rng.choice((entry.name, *entry.aliases))))
            )
        elif roll < 0.55 and entry.domains:
            apps.append(
                RawApp(source, client_id, "Connector", homepage=f"https://app.{entry.domains[0]}/")
            )
        elif roll < 0.62:
            apps.append(RawApp("entra", rng.choice(microsoft_ids), "Microsoft service"))
        elif roll < 0.70:
            merchant = f"SQ *{entry.name.upper()} {rng.randrange(10**6, 10**7)}"
            apps.append(RawApp("files", merchant, merchant, kind="expense"))
        elif roll < 0.75:
            apps.append(
                RawApp(
                    source,
                    client_id,
                    f"{entry.name} Free Download",
                    reply_urls=(f"https://{normalise_name(entry.name).replace(' ', '-')}.top/",),
                )
            )
        else:
            word = "".join(rng.choices(string.ascii_lowercase, k=rng.randrange(5, 12)))
            apps.append(
                RawApp(
                    source,
                    client_id,
                    f"{word.title()} {rng.choice(['Notes', 'Sync', 'Pro', 'Hub'])}",
                )
            )
    return apps


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--apps", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--repeat", type=int, default=3, help="runs per figure; the best is reported"
    )
    args = parser.parse_args()

    load_times: list[float] = []
    for _ in range(args.repeat):
        normalise_name.cache_clear()
        started = time.perf_counter()
        catalog = Catalog.load()
        load_times.append((time.perf_counter() - started) * 1000)
    load_ms = min(load_times)

    apps = raw_apps(catalog, args.apps, args.seed)
    resolve_times: list[float] = []
    for _ in range(args.repeat):
        # Cold every time: a new resolver and an empty name cache, as in a fresh scan.
        normalise_name.cache_clear()
        resolver = Resolver(catalog, own_domains=["example.com"])
        started = time.perf_counter()
        keys = {resolver.resolve(raw).key for raw in apps}
        resolve_times.append(time.perf_counter() - started)
    resolve_s = min(resolve_times)

    ok = True
    for label, value, target, unit in (
        (f"catalog load ({len(catalog.entries)} apps)", load_ms, LOAD_TARGET_MS, "ms"),
        (f"resolve {len(apps):,} raw apps", resolve_s, RESOLVE_TARGET_S, "s"),
    ):
        passed = value < target
        ok &= passed
        verdict = "PASS" if passed else "MISS"
        print(f"{label:<34} {value:9.3f} {unit:<2}  target < {target:g} {unit}  {verdict}")
    prefixes: dict[str, int] = {}
    for key in keys:
        prefixes[key.split(":", 1)[0]] = prefixes.get(key.split(":", 1)[0], 0) + 1
    print(
        f"{'distinct apps':<34} {len(keys):9d}     "
        + ", ".join(f"{k} {v}" for k, v in sorted(prefixes.items()))
    )
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
