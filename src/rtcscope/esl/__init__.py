"""rtcscope.esl"""
