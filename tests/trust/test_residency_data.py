"""The shipped residency data: dated, sourced, self-consistent, current with botocore,
packaged with the code, and never loaded by ``import byom_sdk``."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from importlib import resources
from pathlib import Path

import pytest

from byom_sdk.trust.residency import (
    data_versions,
    jurisdiction_codes,
    jurisdiction_regions,
    jurisdictions_of,
    known_regions,
    region_cloud,
)

ROOT = Path(__file__).resolve().parents[2]
DATA = resources.files("byom_sdk.trust._residency").joinpath("data")


def load(name):
    return json.loads(DATA.joinpath(name).read_text(encoding="utf-8"))


def test_every_file_is_dated_and_every_entry_sourced():
    versions = data_versions()
    assert set(versions) == {"aws", "gcp", "azure", "jurisdictions"}
    assert all(v[:4].isdigit() for v in versions.values())
    table = load("jurisdictions.json")
    for code, entry in table["jurisdictions"].items():
        for cloud in ("aws", "gcp", "azure"):
            cell = entry[cloud]
            assert cell["as_of"] and cell["sources"], (code, cloud)
            assert set(cell["sources"]) <= set(table["sources"]), (code, cloud)
    for name, key in (("gcp.json", "locations"), ("azure.json", "regions")):
        doc = load(name)
        assert doc["as_of"]
        for region, entry in doc[key].items():
            assert entry["sources"] and set(entry["sources"]) <= set(doc["sources"]), (name, region)


def test_the_jurisdiction_table_names_only_known_regions():
    for code in jurisdiction_codes():
        for cloud, regions in jurisdiction_regions(code).items():
            assert regions <= known_regions(cloud), (code, cloud, regions - known_regions(cloud))


def test_prefixes_that_lie_are_where_they_really_are():
    assert jurisdictions_of("eu-west-2") == {"UK"}
    assert jurisdictions_of("europe-west2") == {"UK"}
    assert jurisdictions_of("uksouth") == {"UK"}
    assert jurisdictions_of("eu-central-2") == {"CH"}
    assert jurisdictions_of("europe-west6") == {"CH"}
    assert jurisdictions_of("eu-west-1") == {"EU", "EEA"}
    assert jurisdictions_of("global") == frozenset()
    assert jurisdictions_of("eu-isoe-west-1") == frozenset()


def test_eu_uk_ch_are_disjoint_and_the_eu_lies_in_the_eea():
    eu, eea, uk, ch = (jurisdiction_regions(c) for c in ("EU", "EEA", "UK", "CH"))
    for cloud in ("aws", "gcp", "azure"):
        assert eu[cloud] <= eea[cloud]
        assert not eu[cloud] & uk[cloud] and not eu[cloud] & ch[cloud] and not uk[cloud] & ch[cloud]
    assert "norwayeast" in eea["azure"] - eu["azure"]


def test_region_names_of_the_three_clouds_never_collide():
    aws, gcp, azure = (known_regions(c) for c in ("aws", "gcp", "azure"))
    assert not aws & gcp and not aws & azure and not gcp & azure
    assert region_cloud("eu-west-1") == "aws" and region_cloud("europe-west4") == "gcp"
    assert region_cloud("westeurope") == "azure" and region_cloud("eu-west-9") is None


def test_no_pseudo_regions_are_known():
    assert "aws-global" not in known_regions("aws")
    assert not any(r.endswith("-fips") for r in known_regions("aws"))


def test_aws_data_is_current_with_the_installed_botocore():
    spec = importlib.util.spec_from_file_location(
        "update_residency_data", ROOT / "scripts" / "update_residency_data.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    shipped = load("aws.json")
    fresh = module.build()
    if fresh["botocore_version"] != shipped["botocore_version"]:
        pytest.skip(f"botocore {fresh['botocore_version']} installed, data from {shipped['botocore_version']}")
    assert module._comparable(fresh) == module._comparable(shipped)


def test_the_data_ships_in_the_wheel():
    # hatchling ships every file under a listed package that git does not ignore.
    config = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    assert 'packages = ["byom_sdk"]' in config
    ignored = subprocess.run(
        ["git", "check-ignore", "byom_sdk/trust/_residency/data/aws.json"], cwd=ROOT, capture_output=True, text=True
    )
    assert ignored.returncode == 1, ignored.stdout  # 1 = not ignored


def test_import_byom_sdk_reads_no_residency_data():
    code = (
        "import sys, byom_sdk\n"
        "b = byom_sdk.Boundary(provider='p', location_kind='customer-cloud', endpoint='https://h.example')\n"
        "import byom_sdk.trust._residency._data as d\n"
        "print(d._load.cache_info().currsize)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "0"
