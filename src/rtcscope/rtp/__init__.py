"""rtcscope.rtp"""
