"""Re-play a captured call in a test bed with sipp (``rtcscope sipp``).

- :mod:`~rtcscope.sipp.source`: the one adapter that picks a stream in a capture and reads
  its packets (also used by :mod:`rtcscope.replay`).
- :mod:`~rtcscope.sipp.media`: the stream as an SDP media section (pure).
- :mod:`~rtcscope.sipp.scenario`: UAS/UAC scenario XML (pure text), digest auth included.
- :mod:`~rtcscope.sipp.pcapfile`: pcap files for ``play_pcap_audio``.
- :mod:`~rtcscope.sipp.audio`: audio files to raw A-law/u-law for ``rtp_stream``, and
  encoded into an RTP pcap (PCMA, PCMU, G.722, Opus, RFC 4733 digits).
- :mod:`~rtcscope.sipp.runner`: writes a bed's files, builds and runs sipp's command line.
"""
