"""Benchmark ``postloan batch`` against the floor of the stack, and start-up times.

Usage (from the repository root, with the venv active)::

    PYTHONPATH=src python bench/run.py            # N = 1000
    PYTHONPATH=src python bench/run.py 1000 5000 10000
    BENCH_REPEAT=5 PYTHONPATH=src python bench/run.py 5000   # more alternated runs

For each N it generates N synthetic, valid answer files (~10 KB each: the
shapes of ``examples/answers``, with notes, statement periods and Chinese
text) under ``bench/out/in-N`` (kept between runs), then measures:

* the floor: the same files read, parsed with PyYAML's C safe loader,
  validated with pydantic (``AnswerFile``), rendered through one compiled
  Markdown and one compiled HTML template and written out, serially, in
  one process, no CLI (loop time only: imports are not counted);
* ``postloan batch IN --output OUT -f md -f html --jobs 2`` as a whole
  process (start-up included), from an empty output folder; then the same
  command again (incremental: nothing changed); and its peak RSS (the
  largest process of the batch's tree, from ``getrusage(RUSAGE_CHILDREN)``
  in a fresh wrapper process);
* start-up: ``python -c pass``, ``postloan --help`` and ``postloan inspect
  --answers`` on one file (medians of alternated rounds; bytecode written,
  as an installed tool has it).

The floor and the batch are alternated BENCH_REPEAT times (default 3) and
the medians compared: this machine is shared and its speed drifts.

It prints every figure and the ratios the targets are about.
"""

from __future__ import annotations

import copy
import json
import os
import random
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "bench" / "out"
EXAMPLES = ROOT / "examples" / "answers"
TARGET_BYTES = 10_000

ENV = {
    **{k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"},
    "PYTHONPATH": str(ROOT / "src"),
    "NO_COLOR": "1",
    # The compile cache lives with the benchmark's files, not in the user's cache.
    "POSTLOAN_CACHE_DIR": os.environ.get("POSTLOAN_CACHE_DIR", str(OUT / "cache")),
}
# PYTHONDONTWRITEBYTECODE is left out: an installed tool runs from compiled
# bytecode (pip compiles it on install); without it every run would compile
# postloan's sources again (30-60 ms). A warm-up run writes the bytecode.

NOTES = [
    "Visited the plant and the warehouse; stock levels match the ledger within 2 %.",
    "借款人提供了最新的银行对账单，资金流向与合同约定用途一致。",
    "Confirmed with the accounting department: deposit balances and settlement amounts "
    "reconciled against the core banking records for the last three months.",
    "实地查看了抵押物，状态完好，未发现被擅自处置的情况；抵押登记仍在有效期内。",
    "Management explained the delay in the second module; new schedule received and "
    "compared with the supervisor's report.",
    "担保人经营情况稳定，但应收账款周转天数有所上升，需持续关注其担保能力的变化趋势。",
]


# --- generating answer files ---------------------------------------------------------


def _bases() -> list[dict[str, Any]]:
    from postloan_cli import yamlio

    files = sorted(EXAMPLES.glob("*.yaml"))
    if not files:
        sys.exit("bench: no examples/answers/*.yaml to build answer files from")
    bases = []
    for path in files:
        data = yamlio.load(path).data
        if data.get("status", "final") == "final":
            bases.append(data)
    return bases


def _vary(value: Any, rng: random.Random, key: str) -> Any:
    """Scale amounts in statement periods a little, so signals differ between files."""
    if isinstance(value, bool) or any(k in key for k in ("months", "pct", "year", "count")):
        return value
    factor = rng.uniform(0.85, 1.15)
    if isinstance(value, int) and value > 1000:
        return int(value * factor)
    if isinstance(value, float) and value > 1000:
        return round(value * factor, 2)
    return value


def _make(base: dict[str, Any], index: int, rng: random.Random) -> dict[str, Any]:
    data = copy.deepcopy(base)
    loan = data["loan"]
    loan["id"] = f"{loan['id']}-{index:06d}"
    if index % 3 == 0:
        loan["borrower"]["name"] = f"{loan['borrower']['name']} （华东分公司 {index}）"
    size = 0
    for section in (data.get("answers") or {}).values():
        for qid, answer in list(section.items()):
            if isinstance(answer, dict) and isinstance(answer.get("value"), list):
                for item in answer["value"]:
                    if isinstance(item, dict):
                        for k, v in item.items():
                            item[k] = _vary(v, rng, k)
            elif isinstance(answer, list) and answer and isinstance(answer[0], dict):
                for item in answer:
                    for k, v in item.items():
                        item[k] = _vary(v, rng, k)
            elif not isinstance(answer, dict | list) and rng.random() < 0.5:
                section[qid] = {"value": answer, "note": rng.choice(NOTES)}
            size += 1
    extra = data.setdefault("opinion", {})
    extra["overall"] = (str(extra.get("overall") or "") + " " + rng.choice(NOTES)).strip()
    return data


def _dump(data: dict[str, Any]) -> str:
    import yaml

    class Dumper(yaml.SafeDumper):
        pass

    def decimal(dumper: Any, value: Decimal) -> Any:
        return dumper.represent_scalar("tag:yaml.org,2002:float", str(value))

    Dumper.add_representer(Decimal, decimal)
    return yaml.dump(data, Dumper=Dumper, allow_unicode=True, sort_keys=False, width=100)


def generate(n: int) -> Path:
    """N answer files in 20 sub-folders; reused when already generated."""
    folder = OUT / f"in-{n}"
    stamp = folder / ".complete"
    if stamp.exists():
        return folder
    shutil.rmtree(folder, ignore_errors=True)
    rng = random.Random(n)
    bases = _bases()
    for index in range(n):
        data = _make(bases[index % len(bases)], index, rng)
        text = _dump(data)
        # Pad with officer notes up to ~10 KB (notes on the opinion's areas).
        areas = data["opinion"].setdefault("areas", {})
        while len(text.encode()) < TARGET_BYTES - 300:
            area = ("use_of_funds", "operations", "financials", "collateral")[len(areas) % 4]
            areas[area] = (areas.get(area, "") + " " + rng.choice(NOTES)).strip()
            text = _dump(data)
        target = folder / f"branch-{index % 20:02d}" / f"{data['loan']['id']}.yaml"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
    stamp.write_text("")
    return folder


# --- the floor -----------------------------------------------------------------------

FLOOR_MD = """\
# Post-loan inspection opinion: {{ a.loan.id }}

**Borrower:** {{ a.loan.borrower.name }} · **Date:** {{ a.inspection.date }}

| Loan | |
| --- | --- |
| Type | {{ a.loan.type }} |
| Amount | {{ a.loan.amount.amount }} {{ a.loan.amount.currency }} |
| Outstanding | {{ a.loan.outstanding.amount }} {{ a.loan.outstanding.currency }} |
| Disbursed | {{ a.loan.disbursed_on }} |
| Matures | {{ a.loan.matures_on }} |
| Purpose | {{ a.loan.purpose }} |
| Days past due | {{ a.loan.days_past_due }} |
| Officer | {{ a.inspection.officer.name }} |

{% for sid, section in a.answers.items() %}
## {{ sid }}

| Question | Answer | Note |
| --- | --- | --- |
{% for qid, ans in section.items() %}
{% if ans is mapping and 'value' in ans %}
| {{ qid }} | {{ ans.value }} | {{ ans.note or '' }} |
{% else %}
| {{ qid }} | {{ ans }} | |
{% endif %}
{% endfor %}
{% endfor %}

## Opinion

{% for area, text in a.opinion.areas.items() %}
- **{{ area }}:** {{ text }}
{% endfor %}

{{ a.opinion.overall or '' }}

Proposed classification: {{ a.opinion.proposed_classification or '-' }}
"""

FLOOR_HTML = """\
<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>Post-loan inspection opinion: {{ a.loan.id }}</title>
<style>body{font-family:sans-serif;margin:2rem}table{border-collapse:collapse}
td,th{border:1px solid #bbb;padding:.2rem .4rem;text-align:left;vertical-align:top}</style>
</head><body>
<h1>Post-loan inspection opinion: {{ a.loan.id }}</h1>
<p><strong>Borrower:</strong> {{ a.loan.borrower.name }} ·
<strong>Date:</strong> {{ a.inspection.date }}</p>
<table><tbody>
<tr><th scope="row">Type</th><td>{{ a.loan.type }}</td></tr>
<tr><th scope="row">Amount</th><td>{{ a.loan.amount.amount }} {{ a.loan.amount.currency }}</td></tr>
<tr><th scope="row">Outstanding</th><td>{{ a.loan.outstanding.amount }}</td></tr>
<tr><th scope="row">Disbursed</th><td>{{ a.loan.disbursed_on }}</td></tr>
<tr><th scope="row">Matures</th><td>{{ a.loan.matures_on }}</td></tr>
<tr><th scope="row">Purpose</th><td>{{ a.loan.purpose }}</td></tr>
<tr><th scope="row">Days past due</th><td>{{ a.loan.days_past_due }}</td></tr>
<tr><th scope="row">Officer</th><td>{{ a.inspection.officer.name }}</td></tr>
</tbody></table>
{% for sid, section in a.answers.items() %}
<section><h2>{{ sid }}</h2>
<table><thead><tr><th>Question</th><th>Answer</th><th>Note</th></tr></thead><tbody>
{% for qid, ans in section.items() %}
{% if ans is mapping and 'value' in ans %}
<tr><td>{{ qid }}</td><td>{{ ans.value }}</td><td>{{ ans.note or '' }}</td></tr>
{% else %}
<tr><td>{{ qid }}</td><td>{{ ans }}</td><td></td></tr>
{% endif %}
{% endfor %}
</tbody></table></section>
{% endfor %}
<section><h2>Opinion</h2><ul>
{% for area, text in a.opinion.areas.items() %}
<li><strong>{{ area }}:</strong> {{ text }}</li>
{% endfor %}
</ul><p>{{ a.opinion.overall or '' }}</p>
<p>Proposed classification: {{ a.opinion.proposed_classification or '-' }}</p></section>
</body></html>
"""


def floor(folder: Path) -> tuple[float, int, float, float]:
    """Serial read + C-parse + validate + render twice + write.

    Returns the loop's seconds, the number of files, and the loop's user and
    system CPU seconds.
    """
    import jinja2
    import yaml

    from postloan_cli.models import AnswerFile

    env = jinja2.Environment(
        autoescape=jinja2.select_autoescape(default_for_string=False),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    md = env.from_string(FLOOR_MD)
    html_env = jinja2.Environment(autoescape=True, trim_blocks=True, lstrip_blocks=True)
    html = html_env.from_string(FLOOR_HTML)
    files = sorted(folder.rglob("*.yaml"))
    out = Path(tempfile.mkdtemp(prefix="floor-", dir=OUT))
    try:
        before = resource.getrusage(resource.RUSAGE_SELF)
        start = time.perf_counter()
        for path in files:
            data = yaml.load(path.read_text(encoding="utf-8"), Loader=yaml.CSafeLoader)
            answers = AnswerFile.model_validate(data)
            target = out / path.relative_to(folder)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.with_suffix(".md").write_text(md.render(a=answers), encoding="utf-8")
            target.with_suffix(".html").write_text(html.render(a=answers), encoding="utf-8")
        seconds = time.perf_counter() - start
        after = resource.getrusage(resource.RUSAGE_SELF)
    finally:
        shutil.rmtree(out, ignore_errors=True)
    user, system = after.ru_utime - before.ru_utime, after.ru_stime - before.ru_stime
    return seconds, len(files), user, system


# --- whole processes --------------------------------------------------------------------

_WRAPPER = """\
import json, resource, subprocess, sys, time
start = time.perf_counter()
proc = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
seconds = time.perf_counter() - start
usage = resource.getrusage(resource.RUSAGE_CHILDREN)
peak = usage.ru_maxrss
print(json.dumps({"seconds": seconds, "rc": proc.returncode, "peak_kb": peak,
                  "user": usage.ru_utime, "system": usage.ru_stime,
                  "stderr": proc.stderr.decode(errors="replace")[-2000:]}))
"""


def measured(cmd: list[str]) -> dict[str, Any]:
    """Run ``cmd`` in a fresh wrapper: wall seconds, exit code, peak RSS of its tree."""
    out = subprocess.run(
        [sys.executable, "-c", _WRAPPER, *cmd], env=ENV, capture_output=True, check=True
    )
    result: dict[str, Any] = json.loads(out.stdout)
    return result


def postloan() -> list[str]:
    script = Path(sys.executable).with_name("postloan")
    return [str(script)] if script.exists() else [sys.executable, "-m", "postloan_cli"]


def _seconds(cmd: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
    return time.perf_counter() - start


def startup(rounds: int = 11) -> None:
    """Medians of ``rounds`` rounds, each running the three commands in turn."""
    example = sorted(EXAMPLES.glob("*.yaml"))[0]
    with tempfile.TemporaryDirectory(dir=OUT) as tmp:
        inspect = [*postloan(), "inspect", "--answers", str(example), "-o", tmp]
        for _ in range(2):  # warm-up: bytecode and the compile cache written
            _seconds(inspect)
        commands = {
            "bare": [sys.executable, "-c", "pass"],
            "help": [*postloan(), "--help"],
            "inspect": inspect,
        }
        times: dict[str, list[float]] = {name: [] for name in commands}
        for _ in range(rounds):
            for name, cmd in commands.items():
                times[name].append(_seconds(cmd))
    bare, helps, one = (statistics.median(times[name]) for name in commands)
    print(f"start-up (medians of {rounds} alternated rounds)")
    print(f"  python -c pass            {bare * 1000:7.1f} ms")
    print(
        f"  postloan --help           {helps * 1000:7.1f} ms   {helps / bare:5.1f}x"
        "  (target <= 10x)"
    )
    print(f"  postloan inspect --answers{one * 1000:7.1f} ms   {one / bare:5.1f}x  (target <= 20x)")


def bench(n: int, jobs: int, repeat: int) -> dict[str, Any]:
    """Floor and cold batch, alternated ``repeat`` times (medians), then one re-run."""
    folder = generate(n)
    output = OUT / f"reports-{n}"
    cmd = [*postloan(), "batch", str(folder), "-o", str(output), "-f", "md", "-f", "html"]
    cmd += ["--jobs", str(jobs)]
    floors, batches, peaks = [], [], []
    floor_cpu: list[tuple[float, float]] = []
    batch_cpu: list[tuple[float, float]] = []
    files = 0
    shutil.rmtree(output, ignore_errors=True)
    for index in range(repeat):
        # Alternated, so that a slow spell of this shared machine hits both;
        # each starts with the previous one's writes flushed (os.sync), not
        # competing with the kernel writing them back. Each also starts right
        # after the other deleted its output: on this VM, creating files just
        # after thousands were deleted costs more kernel time (measured: ~0.7 ms
        # per answer file), so deleting both outputs just before the batch
        # (as this script once did) made only the batch pay for it.
        os.sync()
        seconds, files, user, system = floor(folder)  # deletes its output when done
        floors.append(seconds)
        floor_cpu.append((user, system))
        os.sync()
        first = measured(cmd)
        if first["rc"] != 0:
            print(f"  batch exit code {first['rc']}:\n{first['stderr']}")
        batches.append(first["seconds"])
        peaks.append(first["peak_kb"])
        batch_cpu.append((first["user"], first["system"]))
        if index < repeat - 1:  # the last output stays for the re-run below
            shutil.rmtree(output, ignore_errors=True)
    again = measured(cmd)  # nothing changed since the last cold run
    shutil.rmtree(output, ignore_errors=True)
    floor_s, batch_s = statistics.median(floors), statistics.median(batches)
    floor_rate, rate = files / floor_s, files / batch_s
    ratios = sorted(f / b for f, b in zip(floors, batches, strict=True))
    print(f"N = {files} (medians of {repeat} alternated runs)")
    print(f"  floor (serial, in-process)   {floor_s:7.2f} s  {floor_rate:8.1f} files/s")
    print(
        f"  batch --jobs {jobs} (cold output)  {batch_s:7.2f} s  {rate:8.1f} files/s  "
        f"{rate / floor_rate:4.2f}x floor (target >= 1.8x; runs: "
        + ", ".join(f"{r:.2f}" for r in ratios)
        + f")  peak RSS {max(peaks) / 1024:6.1f} MB"
    )
    print(
        f"  batch --jobs {jobs} (re-run)       {again['seconds']:7.2f} s  "
        f"{files / again['seconds']:8.1f} files/s  peak RSS {again['peak_kb'] / 1024:6.1f} MB"
    )

    # Where the CPU goes, per file: user time is our code (and the stack's);
    # system time is mostly the kernel creating the report files, the same
    # two files per answer file for both.
    def per_file(cpu: list[tuple[float, float]]) -> str:
        user = statistics.median(u for u, _ in cpu) / files * 1000
        system = statistics.median(s for _, s in cpu) / files * 1000
        return f"user {user:.2f} + system {system:.2f} = {user + system:.2f} ms"

    print(f"  CPU per file: floor {per_file(floor_cpu)}")
    print(f"                batch, all processes {per_file(batch_cpu)}")
    sys.stdout.flush()
    return {"n": files, "floor": floor_rate, "batch": rate, "peak_kb": max(peaks)}


def main(argv: list[str]) -> None:
    sizes = [int(a) for a in argv if a.isdigit()] or [1000]
    repeat = int(os.environ.get("BENCH_REPEAT", "3"))
    jobs = 2
    OUT.mkdir(parents=True, exist_ok=True)
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} cores, jobs = {jobs}")
    startup()
    results = [bench(n, jobs, repeat) for n in sizes]
    if len(results) > 1:
        low, high = results[0], results[-1]
        print(
            f"peak RSS N={low['n']}: {low['peak_kb'] / 1024:.1f} MB, N={high['n']}: "
            f"{high['peak_kb'] / 1024:.1f} MB  ratio {high['peak_kb'] / low['peak_kb']:.2f} "
            "(target: the same)"
        )


if __name__ == "__main__":
    main(sys.argv[1:])
