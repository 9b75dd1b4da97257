"""Containers: a read-only, exact view of the virtual disk inside an image file."""

from vhdfix.disk.container import ChainLink, Container, ContainerInfo
from vhdfix.disk.opener import open_disk
from vhdfix.disk.stream import ReadOnlyStream

__all__ = ["ChainLink", "Container", "ContainerInfo", "ReadOnlyStream", "open_disk"]
