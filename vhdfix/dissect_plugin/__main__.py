"""``python -m vhdfix.dissect_plugin``: print the file to give dissect's ``--plugin-path`` or ``DISSECT_PLUGINS``."""

from vhdfix.dissect_plugin import PLUGIN_FILE

print(PLUGIN_FILE)
