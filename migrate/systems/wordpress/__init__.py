"""WordPress: a WXR export read as a source, and the WXR file WordPress (and Isso, Remark42,
Disqus) import written (target type `wxr`, or `wordpress`)."""

from migrate.systems.wordpress.plugin import PLUGIN as SOURCE
from migrate.systems.wordpress.source import WordPressSource
from migrate.systems.wordpress.wxr import PLUGIN as TARGET
from migrate.systems.wordpress.wxr import WxrTarget

__all__ = ["SOURCE", "TARGET", "WordPressSource", "WxrTarget"]
