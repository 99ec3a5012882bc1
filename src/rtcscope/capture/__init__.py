"""rtcscope.capture: pcap/pcapng records -> link layer -> IP -> UDP/TCP/ICMP.

``reader.open_capture`` streams records, ``decode.decode`` turns one into a
:class:`~rtcscope.capture.packet.Packet`, ``pipeline.packets`` chains them (the one way the
rest of rtcscope reads a capture), ``writer.PcapWriter`` writes pcap.
"""
