"""A template byom-sdk plugin: the ``template-echo`` provider."""

from ._plugin import EchoModel

__all__ = ["EchoModel"]
