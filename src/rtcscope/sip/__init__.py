"""rtcscope.sip"""
