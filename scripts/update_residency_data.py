"""Regenerate byom_sdk/trust/_residency/data/aws.json from the installed botocore.

The residency gate validates AWS region names and SageMaker runtime hosts offline, so it
ships botocore's own partition data instead of a hand-made list: the regions of every
partition (``data/partitions.json``), the regions botocore lists for ``runtime.sagemaker``
(``data/endpoints.json``), and the DNS suffixes botocore's endpoint resolver really produces
for ``sagemaker-runtime`` in each partition (plain, FIPS, dual-stack, both). The suffixes are
measured by building clients, not copied from ``dnsSuffix``: botocore resolves some ISO
regions' dual-stack hosts under ``api.aws``, and the parser must accept exactly what the SDK
can produce.

Run after a botocore upgrade and commit the diff:

    .venv/bin/python scripts/update_residency_data.py [--check]

``--check`` exits 1 when the shipped file differs from what the installed botocore gives
(ignoring the generation date), so CI can notice a stale copy.
"""

from __future__ import annotations

import argparse
import datetime
import json
import re
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
TARGET = ROOT / "byom_sdk" / "trust" / "_residency" / "data" / "aws.json"

# Pseudo-regions botocore lists for endpoint routing; nobody deploys an endpoint there.
_PSEUDO = re.compile(r"(^aws(-[a-z]+)*-global$)|(-fips$)|(^fips-)")


def _suffixes(region: str) -> set[str]:
    """The DNS suffixes of the sagemaker-runtime hosts botocore resolves for ``region``."""
    import botocore.session
    from botocore.config import Config

    session = botocore.session.get_session()
    found: set[str] = set()
    for fips in (False, True):
        for dualstack in (False, True):
            try:
                client = session.create_client(
                    "sagemaker-runtime",
                    region_name=region,
                    aws_access_key_id="x",
                    aws_secret_access_key="x",
                    config=Config(use_fips_endpoint=fips, use_dualstack_endpoint=dualstack),
                )
            except Exception:  # noqa: BLE001 - a variant a partition does not offer
                continue
            host = client.meta.endpoint_url.split("://", 1)[1].split("/", 1)[0]
            _, _, suffix = host.partition(f".{region}.")
            if suffix:
                found.add(suffix)
            client.close()
    return found


def build() -> dict[str, Any]:
    import botocore

    data_dir = Path(botocore.__file__).parent / "data"
    partitions = json.loads((data_dir / "partitions.json").read_text(encoding="utf-8"))
    endpoints = json.loads((data_dir / "endpoints.json").read_text(encoding="utf-8"))
    runtime: dict[str, list[str]] = {}
    for part in endpoints["partitions"]:
        service = part["services"].get("runtime.sagemaker", {})
        runtime[part["partition"]] = sorted(r for r in service.get("endpoints", {}) if not _PSEUDO.search(r))

    out: dict[str, Any] = {}
    for part in partitions["partitions"]:
        name = part["id"]
        regions = {r: v.get("description", "") for r, v in sorted(part["regions"].items()) if not _PSEUDO.search(r)}
        suffixes: set[str] = set()
        for region in regions:
            suffixes |= _suffixes(region)
        outputs = part["outputs"]
        out[name] = {
            "dns_suffix": outputs["dnsSuffix"],
            "dualstack_dns_suffix": outputs["dualStackDnsSuffix"],
            "region_regex": part["regionRegex"],
            "regions": regions,
            "sagemaker_runtime_regions": runtime.get(name, []),
            "sagemaker_runtime_suffixes": sorted(suffixes),
        }
    return {
        "generated": datetime.date.today().isoformat(),
        "botocore_version": botocore.__version__,
        "source": (
            "botocore data/partitions.json (partitions, regions, descriptions) and data/endpoints.json "
            "('runtime.sagemaker' regions); suffixes measured with botocore's endpoint resolver for "
            "sagemaker-runtime (plain, FIPS, dual-stack, FIPS+dual-stack)"
        ),
        "generator": "scripts/update_residency_data.py",
        "partitions": out,
    }


def _comparable(data: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in data.items() if k != "generated"}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="only report whether the shipped file is current")
    args = parser.parse_args()
    fresh = build()
    if args.check:
        shipped = json.loads(TARGET.read_text(encoding="utf-8")) if TARGET.exists() else {}
        if _comparable(shipped) != _comparable(fresh):
            print(f"{TARGET.relative_to(ROOT)} is stale for botocore {fresh['botocore_version']}", file=sys.stderr)
            return 1
        print(f"{TARGET.relative_to(ROOT)} matches botocore {fresh['botocore_version']}")
        return 0
    TARGET.parent.mkdir(parents=True, exist_ok=True)
    TARGET.write_text(json.dumps(fresh, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    counts = {name: len(p["regions"]) for name, p in fresh["partitions"].items()}
    print(f"wrote {TARGET.relative_to(ROOT)} (botocore {fresh['botocore_version']}): {counts}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
