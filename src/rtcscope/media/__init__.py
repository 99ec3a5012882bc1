"""rtcscope.media"""
