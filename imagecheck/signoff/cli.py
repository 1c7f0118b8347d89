"""The sign-off command line (console script imagecheck-signoff, or python -m imagecheck.signoff):

    imagecheck-signoff merge SHARD_DIR... --out DIR [--release] [--baseline FILE]

merges the shards that `pytest --shard DIR` wrote on several hosts into one sign-off
(report.html, report.md, report.json, junit.xml in --out). Exit status: 0 SIGNED OFF,
1 BLOCKED, 4 bad input (a missing folder, no report.json, invalid JSON, a report that is
not a shard, shards that judged different things), with a message that says what was
expected, what was found, where, and a hint; never a traceback.
"""
from __future__ import annotations

import argparse
import datetime
import json
import sys
import time
from pathlib import Path

from ..errors import ImagecheckError, explain
from . import baseline as baseline_module
from . import writer
from .merge import Shard, merge
from .model import SCHEMA, Run, SignOff

PROGRAM = "imagecheck-signoff"
OK, BLOCKED_STATUS, USAGE = 0, 1, 4
SHARD_HINT = "pass the folders that `pytest --shard DIR` wrote (one per host), e.g. the downloaded CI artifacts"


class InputError(ImagecheckError):
    """A merge input that cannot be used."""


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error exits 4 with expected, observed and a hint (as pytest's do)."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.print_usage(sys.stderr)
        sys.stderr.write(f"{self.prog}: error: " + explain(
            "the command line cannot be used", expected="merge SHARD_DIR... --out DIR [--release] [--baseline FILE]",
            observed=message, where="the command line", hint=SHARD_HINT) + "\n")
        raise SystemExit(USAGE)


def parser() -> argparse.ArgumentParser:
    top = _Parser(prog=PROGRAM, description="The release sign-off across machines")
    commands = top.add_subparsers(dest="command", required=True, metavar="COMMAND", parser_class=_Parser)
    merge_cmd = commands.add_parser("merge", help="Merge the shards of one image's runs on several hosts into "
                                                  "one sign-off")
    merge_cmd.add_argument("shards", nargs="+", metavar="SHARD_DIR", help="A folder `pytest --shard DIR` wrote")
    merge_cmd.add_argument("--out", required=True, metavar="DIR",
                           help="Where to write report.html, report.md, report.json and junit.xml")
    merge_cmd.add_argument("--release", action="store_true",
                           help="A release sign-off: a required check no shard could run blocks")
    merge_cmd.add_argument("--baseline", metavar="FILE", help="Compare with an earlier report.json (a run's or a "
                                                              "merge's); regressions lead the report")
    return top


def load_shard(folder: str) -> Shard:
    """A shard folder's report; InputError says what is wrong with it."""
    path = Path(folder)
    report = path / "report.json"
    expected = "a folder that `pytest --shard DIR` wrote, holding report.json"
    if not path.is_dir():
        raise InputError(explain(f"shard {folder}: not a folder", expected=expected,
                                 observed="nothing there" if not path.exists() else "a file", where=str(path),
                                 hint=SHARD_HINT))
    try:
        if not report.is_file():
            found = sorted(p.name for p in path.iterdir())[:8]
            raise InputError(explain(f"shard {folder}: no report.json", expected=expected,
                                     observed=f"the folder holds {', '.join(found) or 'nothing'}", where=str(report),
                                     hint=SHARD_HINT))
        data = json.loads(report.read_text(encoding="utf-8"))
    except OSError as error:  # a folder or file this user may not read
        raise InputError(explain(f"shard {folder}: cannot read report.json", expected="a readable file",
                                 observed=str(error.strerror or error), where=str(report), hint=SHARD_HINT)) from None
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        observed = (f"{error.msg} at line {error.lineno}, column {error.colno}"
                    if isinstance(error, json.JSONDecodeError) else "bytes that are not UTF-8 text")
        raise InputError(explain(f"shard {folder}: report.json is not valid JSON",
                                 expected=f"the JSON sign-off report (schema {SCHEMA})", observed=observed,
                                 where=str(report), hint="the file was cut short or edited; run the shard again"
                                 )) from None
    schema = data.get("schema") if isinstance(data, dict) else type(data).__name__
    if not isinstance(data, dict) or schema != SCHEMA or not isinstance(data.get("images"), list):
        raise InputError(explain(f"shard {folder}: report.json is not a sign-off report",
                                 expected=f"schema {SCHEMA} with a list of images", observed=f"schema {schema!r}",
                                 where=str(report), hint=SHARD_HINT))
    if not isinstance(data.get("shard"), dict):
        raise InputError(explain(f"shard {folder}: report.json is a sign-off report, not a shard",
                                 expected="a report written with --shard DIR (it records its host and what it judged)",
                                 observed="no 'shard' section" + (" (a merged sign-off)" if data.get("shards") else ""),
                                 where=str(report), hint="run the suite on that host with --shard DIR instead of "
                                                          "--signoff-report DIR"))
    try:
        return Shard(str(path), SignOff.from_json(data))
    except (TypeError, ValueError, AttributeError) as error:
        raise InputError(explain(f"shard {folder}: report.json cannot be read as a shard",
                                 expected=f"a shard as imagecheck writes it (schema {SCHEMA})",
                                 observed=f"{type(error).__name__}: {error}", where=str(report),
                                 hint="run the shard again with this version of imagecheck")) from None


def _iso(timestamp: float) -> str:
    return datetime.datetime.fromtimestamp(timestamp, datetime.timezone.utc).isoformat(timespec="seconds")


def run_merge(args: argparse.Namespace, argv: list[str]) -> int:
    started = time.time()
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise InputError(explain(f"--out {out}: exists and is not a folder", expected="a folder (made when missing)",
                                 observed="a file", where=str(out), hint="pass another folder for the sign-off"))
    shards = [load_shard(folder) for folder in args.shards]
    base = baseline_module.load(args.baseline) if args.baseline else None
    finished = time.time()
    run = Run(args=argv, started=_iso(started), finished=_iso(finished), duration_s=round(finished - started, 1),
              program=PROGRAM)
    signoff = merge(shards, release=args.release, baseline=base, run=run, baseline_info=None if base is None else {
        "path": str(args.baseline), "generated": base.generated, "images": [i.ref for i in base.images]})
    signoff.generated = _iso(finished)
    try:
        writer.copy_sboms(signoff, out, [Path(shard.where) for shard in shards])
        written = writer.write(signoff, out, junit=True)
    except OSError as error:
        raise InputError(explain(f"cannot write the sign-off into {out}", expected="a folder this user can write",
                                 observed=str(error.strerror or error), where=str(out),
                                 hint="pass another --out folder")) from None
    print(f"imagecheck sign-off ({len(shards)} shards merged, {signoff.run.mode}): {signoff.verdict}")
    for image in signoff.images:
        print(f"{image.ref}  {image.verdict}  judged {image.judged or 'unknown'}")
        for reason in image.reasons:
            print(f"    - {reason}")
    print("report: " + ", ".join(str(p) for p in written))
    return BLOCKED_STATUS if signoff.blocked or not signoff.images else OK


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parser().parse_args(argv)
    try:
        return run_merge(args, argv)
    except ImagecheckError as error:
        print(f"{PROGRAM} merge: error: {error}", file=sys.stderr)
        return USAGE


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
