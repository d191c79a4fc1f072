"""Print the size of every shipped plugin's source as a Markdown table (docs/plugins.md).

Counts the ``.py`` files under each package's ``src/``: all lines, and code lines (not
blank, not a comment line; docstrings count), with the package's ``testing`` helpers (loopback servers) apart.
"""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _count(files: list[Path]) -> tuple[int, int]:
    lines = [line for path in files for line in path.read_text(encoding="utf-8").splitlines()]
    code = [line for line in lines if line.strip() and not line.lstrip().startswith("#")]
    return len(lines), len(code)


def main() -> int:
    print("| Package | Provider source: files, lines (code) | Test helpers (`testing/`): lines |")
    print("|---|---|---|")
    packages = sorted(ROOT.glob("plugins/byom-*")) + sorted(ROOT.glob("contrib/byom-*")) + [ROOT / "contrib/_template"]
    for package in packages:
        files = sorted((package / "src").rglob("*.py"))
        helpers = [f for f in files if "testing" in f.relative_to(package / "src").parts]
        source = [f for f in files if f not in helpers]
        lines, code = _count(source)
        helper_lines = _count(helpers)[0] if helpers else 0
        name = package.relative_to(ROOT).as_posix()
        print(f"| `{name}` | {len(source)} files, {lines} ({code}) | {helper_lines or '-'} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
