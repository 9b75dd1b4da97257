"""vhdfix: offline diagnosis and repair of broken Azure Windows VM OS disks."""

__version__ = "0.1.0"
