"""rtcscope.hepipe"""
