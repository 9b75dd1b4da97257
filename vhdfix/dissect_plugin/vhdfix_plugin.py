"""The file dissect.target loads by path (``--plugin-path`` / ``DISSECT_PLUGINS``).

It only imports the plugin from the installed package, so the plugin class is
registered once, under its package name, however it is reached.
"""

from vhdfix.dissect_plugin.plugin import VhdfixPlugin

__all__ = ["VhdfixPlugin"]
