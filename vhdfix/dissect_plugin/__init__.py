"""vhdfix as a dissect.target plugin: ``target-query -f vhdfix.diagnose TARGET`` and ``target.vhdfix.diagnose()``.

Importing this package registers the plugin with dissect.target (its ``Plugin``
subclasses register themselves). dissect.target 3.25 finds plugins of other
packages only by file path, through ``--plugin-path`` or the ``DISSECT_PLUGINS``
variable; :data:`PLUGIN_FILE` is the file to name there (``python -m
vhdfix.dissect_plugin`` prints it).
"""

from pathlib import Path

from vhdfix.dissect_plugin.plugin import VhdfixPlugin, diagnose_target

PLUGIN_FILE = Path(__file__).with_name("vhdfix_plugin.py")

__all__ = ["PLUGIN_FILE", "VhdfixPlugin", "diagnose_target"]
