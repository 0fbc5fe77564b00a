"""``modkit datasets list|info|path|verify``: the registry of public labelled data sets."""

from __future__ import annotations

import argparse
import sys

from ..datasets import dataset_info, dataset_path, list_datasets, locate, verify_datasets
from ._common import existing_dir


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "datasets",
        help="the public labelled data sets: list, info, path (downloads if allowed), verify",
        description="Data sets are looked up in --data-dir, $MODKIT_DATA_DIR, then the user "
        "cache ($MODKIT_CACHE_DIR/datasets), and downloaded into the user cache when missing "
        "(unless $MODKIT_OFFLINE=1). Every file is checked against its registered sha256.",
    )
    actions = p.add_subparsers(dest="action", metavar="ACTION", required=True)

    def add(name: str, help: str) -> argparse.ArgumentParser:
        q = actions.add_parser(name, help=help, description=help)
        q.add_argument(
            "--data-dir", metavar="DIR", type=existing_dir, help="a folder searched first"
        )
        return q

    add("list", "one line per data set: name, parts, license, found or not").set_defaults(
        func=run_list
    )
    q = add("info", "description, intended use, license, citation and URLs of a data set")
    q.add_argument("name", help="a data set name (see 'modkit datasets list')")
    q.set_defaults(func=run_info)
    q = add("path", "print the verified path of a data set file (downloading it if allowed)")
    q.add_argument("name", help="a data set name (see 'modkit datasets list')")
    q.add_argument("--part", help="a part of the data set (default: its first part)")
    q.add_argument("--no-download", action="store_true", help="fail instead of downloading")
    q.add_argument(
        "--mirror",
        metavar="URL",
        help="base URL replacing "
        "https://raw.githubusercontent.com/ (default $MODKIT_DATASET_MIRROR)",
    )
    q.set_defaults(func=run_path)
    q = add(
        "verify", "check every file's sha256 (no download); exit 1 if any is missing or corrupt"
    )
    q.add_argument("names", nargs="*", metavar="NAME", help="data sets to check (default all)")
    q.set_defaults(func=run_verify)


def run_list(args: argparse.Namespace) -> int:
    rows = [("NAME", "PARTS", "LICENSE", "FOUND")]
    for info in list_datasets():
        found = sum(
            locate(info.name, part, data_dir=args.data_dir) is not None for part in info.parts
        )
        total = len(info.parts)
        state = "yes" if found == total else ("no" if found == 0 else f"{found}/{total} parts")
        rows.append((info.name, ",".join(info.parts), info.license, state))
    widths = [max(len(r[i]) for r in rows) for i in range(3)]
    for row in rows:
        print("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=False)) + "  " + row[3])
    return 0


def run_info(args: argparse.Namespace) -> int:
    info = dataset_info(args.name)
    lines = [
        f"{info.name}: {info.title}",
        f"  {info.description}",
        f"  use: {info.use}",
        f"  training allowed: {'yes' if info.trainable else 'no'}",
        f"  license: {info.license}",
        f"  cite: {info.citation}",
        f"  source: {info.source}",
    ]
    for entry in info.files:
        where = locate(info.name, entry.part, data_dir=args.data_dir)
        lines.append(f"  part {entry.part}: {entry.filename} sha256 {entry.sha256}")
        lines.append(f"    url: {entry.url}")
        lines.append(f"    local: {where if where is not None else '(not found)'}")
    print("\n".join(lines))
    return 0


def run_path(args: argparse.Namespace) -> int:
    path = dataset_path(
        args.name,
        args.part,
        data_dir=args.data_dir,
        download=False if args.no_download else None,
        mirror=args.mirror,
    )
    print(path)
    return 0


def run_verify(args: argparse.Namespace) -> int:
    statuses = verify_datasets(args.names or None, data_dir=args.data_dir)
    bad = 0
    for s in statuses:
        label = f"{s.name}/{s.part}"
        if s.ok:
            print(f"ok       {label}  {s.path}")
        else:
            bad += 1
            where = f"{s.path}: " if s.path is not None else ""
            print(f"{s.status:<8} {label}  {where}{s.message}")
    if bad:
        print(
            f"modkit datasets verify: {bad} of {len(statuses)} files missing or corrupt; "
            "set MODKIT_DATA_DIR or run 'modkit datasets path NAME --part PART' to download",
            file=sys.stderr,
        )
        return 1
    return 0
