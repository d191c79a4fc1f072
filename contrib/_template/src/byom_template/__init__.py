"""A template byom-sdk plugin: the ``template-echo`` provider."""

from ._plugin import EchoProvider

__all__ = ["EchoProvider"]
