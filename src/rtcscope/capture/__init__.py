"""rtcscope.capture"""
