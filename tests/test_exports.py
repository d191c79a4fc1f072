"""The public surface: exact __all__, lazy imports, and a light `import byom_sdk`."""

from __future__ import annotations

import subprocess
import sys

import byom_sdk
import byom_sdk.testing


def _public_names(module):
    return sorted(n for n in vars(module) if not n.startswith("_"))


def test_all_is_sorted_and_every_name_resolves():
    """__all__ is sorted, unique, and each name resolves to an object."""
    assert byom_sdk.__all__ == sorted(set(byom_sdk.__all__))
    for name in byom_sdk.__all__:
        assert getattr(byom_sdk, name) is not None, name


def test_all_is_exact():
    """The lazily resolved names are exactly __all__; nothing public is left out."""
    assert sorted(byom_sdk._LAZY) == byom_sdk.__all__
    assert sorted(byom_sdk.testing.__all__) == byom_sdk.testing.__all__
    assert set(_public_names(byom_sdk.testing)) - {"annotations"} <= set(byom_sdk.testing.__all__) | {
        "conformance",
        "plugin",
    }


def test_unknown_attribute_raises():
    """Unknown names raise AttributeError naming the module."""
    import pytest

    with pytest.raises(AttributeError, match="has no attribute 'Nope'"):
        byom_sdk.Nope  # noqa: B018


def test_import_is_light():
    """`import byom_sdk` imports no heavy library and not even pydantic or pluggy."""
    code = (
        "import sys\n"
        "before = set(sys.modules)\n"  # some site .pth files pre-import namespace packages
        "import byom_sdk\n"
        "new = set(sys.modules) - before\n"
        "heavy = [m for m in ('pydantic', 'pluggy', 'boto3', 'botocore', 'google.cloud', 'grpc', "
        "'onnxruntime', 'numpy', 'tokenizers', 'jinja2', 'click', 'rich', 'asyncio') if m in new]\n"
        "print(','.join(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_using_the_client_does_not_import_plugin_libraries():
    """Building a Client and a scripted model loads plugins' entry modules but no cloud SDKs."""
    code = (
        "import sys, byom_sdk\n"
        "c = byom_sdk.Client(models={'m': {'provider': 'scripted'}}, trust='off')\n"
        "c.model('m').generate('hi')\n"
        "heavy = [m for m in ('boto3', 'botocore', 'google.cloud.aiplatform_v1', 'grpc', 'onnxruntime', "
        "'numpy', 'onnx', 'gguf') if m in sys.modules]\n"
        "print(','.join(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_version_comes_from_metadata():
    """__version__ is the installed distribution's version."""
    import importlib.metadata

    assert byom_sdk.__version__ == importlib.metadata.version("byom-sdk")
