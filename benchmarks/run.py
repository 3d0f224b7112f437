"""Run the benchmarks: every script in benchmarks/ but this one (``make bench``).

    .venv/bin/python benchmarks/run.py                 # all of them
    .venv/bin/python benchmarks/run.py catalogue       # some, by name
    .venv/bin/python benchmarks/run.py --reseed        # options go to every script
    .venv/bin/python benchmarks/run.py catalogue --samples 50

Each script runs in its own process with this Python; the run fails when one of
them fails. Scripts whose name starts with "_" are helpers, not benchmarks.
"""

import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def scripts() -> list[Path]:
    return sorted(p for p in HERE.glob("*.py") if p.name != Path(__file__).name and not p.name.startswith("_"))


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] in (["-h"], ["--help"]):
        print(__doc__)
        return 0
    # Leading words are benchmark names; from the first option on, everything goes to each script.
    first_option = next((i for i, arg in enumerate(argv) if arg.startswith("-")), len(argv))
    names, passed = argv[:first_option], argv[first_option:]
    available = {p.stem: p for p in scripts()}
    unknown = [name for name in names if name not in available]
    if unknown:
        print(f"unknown benchmark(s): {', '.join(unknown)}; available: {', '.join(available)}", file=sys.stderr)
        return 2
    chosen = [available[name] for name in names] or list(available.values())
    failed = []
    for script in chosen:
        print(f"== {script.stem}", flush=True)
        started = time.perf_counter()
        code = subprocess.call([sys.executable, str(script), *passed], cwd=HERE.parent)
        print(f"== {script.stem}: {'ok' if code == 0 else f'failed ({code})'} in {time.perf_counter() - started:.0f} s")
        if code:
            failed.append(script.stem)
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
