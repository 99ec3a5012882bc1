"""rtcscope.hep"""
