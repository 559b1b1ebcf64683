"""WordPress: the WXR file WordPress (and Isso, Remark42, Disqus) import."""

from migrate.systems.wordpress.wxr import PLUGIN as TARGET
from migrate.systems.wordpress.wxr import WxrTarget

__all__ = ["TARGET", "WxrTarget"]
