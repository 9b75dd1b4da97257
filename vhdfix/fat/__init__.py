"""FAT12/16/32 (an EFI system partition): a small bounded reader, and each file's byte runs for a writer."""

from vhdfix.fat.volume import FatEntry, FatFile, FatVolume, is_fat_boot_sector

__all__ = ["FatEntry", "FatFile", "FatVolume", "is_fat_boot_sector"]
