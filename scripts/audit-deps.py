"""Supply chain: audit every installed dependency against PyPI's vulnerability data.

Runs ``pip-audit`` (kept in its own tool environment, ``.venv-audit``, so it never becomes a
dependency of the product) over the exact versions installed in ``.venv``, and prints one table:
what was audited, what is vulnerable, what PyPI's database does not know. The exit status is 1
when a vulnerability is found that ``.ci/audit-ignore.txt`` does not explain (one line per
advisory: ``<id> <reason>``), 2 when the audit itself could not run (no registry), else 0.

A package PyPI does not list at that version (a private mirror's build, for instance) cannot be
audited; it is counted and named, never silently passed: the README says what that means.
"""

from __future__ import annotations

import json
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TOOL = ROOT / ".venv-audit"
IGNORE = ROOT / ".ci" / "audit-ignore.txt"


def _tool() -> Path:
    audit = TOOL / "bin" / "pip-audit"
    if not audit.exists():
        venv.create(TOOL, with_pip=True)
        subprocess.run(
            [str(TOOL / "bin" / "python"), "-m", "pip", "install", "--quiet", "pip-audit"],
            check=True,
        )
    return audit


def _ignored() -> dict[str, str]:
    if not IGNORE.exists():
        return {}
    out = {}
    for line in IGNORE.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            advisory, _, reason = line.partition(" ")
            out[advisory] = reason.strip()
    return out


def main() -> int:
    audit = _tool()
    frozen = subprocess.run(
        [str(ROOT / ".venv" / "bin" / "python"), "-m", "pip", "freeze", "--exclude-editable"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    requirements = TOOL / "requirements.txt"
    requirements.write_text(
        "\n".join(
            line for line in frozen.splitlines() if "==" in line and not line.startswith("-e")
        )
    )
    report = TOOL / "report.json"
    run = subprocess.run(
        [
            str(audit),
            "-r",
            str(requirements),
            "--no-deps",
            "--disable-pip",
            "--progress-spinner",
            "off",
            "-f",
            "json",
            "-o",
            str(report),
        ],
        capture_output=True,
        text=True,
    )
    if not report.exists():
        print(run.stderr[-2000:], file=sys.stderr)
        print("dependency audit could not run (is the package registry reachable?)")
        return 2
    data = json.loads(report.read_text())
    ignored = _ignored()
    audited, unknown, findings = 0, [], []
    for dep in data.get("dependencies", []):
        if "skip_reason" in dep:
            unknown.append(f"{dep['name']} {dep.get('version', '')}".strip())
            continue
        audited += 1
        for vuln in dep.get("vulns", []):
            ids = [vuln["id"], *vuln.get("aliases", [])]
            explained = next((ignored[i] for i in ids if i in ignored), None)
            findings.append(
                (dep["name"], dep["version"], vuln["id"], vuln.get("fix_versions"), explained)
            )
    print(f"dependencies audited against PyPI's vulnerability data: {audited}")
    for name, version, advisory, fixes, explained in findings:
        fix = ", ".join(fixes or []) or "no fixed release"
        note = f"explained: {explained}" if explained else "NOT EXPLAINED"
        print(f"  {name} {version}: {advisory} (fixed in {fix}) - {note}")
    if unknown:
        print(f"not known to PyPI at the installed version, so not audited: {len(unknown)}")
        print("  " + ", ".join(sorted(unknown)))
    if not audited:
        print(
            "NOTHING WAS AUDITED: PyPI's vulnerability data knows none of the installed versions"
            " (packages from a private mirror?); this run proves nothing about them"
        )
    open_findings = [f for f in findings if f[4] is None]
    print(
        f"vulnerabilities: {len(findings)} found, {len(open_findings)} not explained in"
        f" {IGNORE.relative_to(ROOT)}"
    )
    return 1 if open_findings else 0


if __name__ == "__main__":
    sys.exit(main())
