from rtcscope.cli import run

run()
