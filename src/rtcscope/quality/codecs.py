"""Which E-model rates a codec, and its (Ie, Bpl) planning values with their source.

Narrowband codecs: ITU-T G.113 (11/2007) Appendix I, Table I.1 (Ie) and Table I.3 (Bpl, the
only codecs for which a packet-loss robustness value is published there). Wideband (G.722):
G.113 Appendix IV, Table IV.1 (Ie,WB). Fullband (G.107.2, G.113 Appendix V): no value is
transcribed here, and ITU-T publishes none for Opus, so those streams are "not rated". The
appendices are provisional planning values, not measurements of a call.

A codec with an Ie but no published Bpl is rated only while it loses nothing (Ie,eff = Ie
then, whatever Bpl is); with loss it is "not rated". A codec with no Ie is never rated. The
rating never borrows another codec's values.
"""

from __future__ import annotations

from dataclasses import dataclass

from rtcscope.quality.emodel import Scale


@dataclass(frozen=True, slots=True)
class CodecImpairment:
    """One codec's planning values and where they come from."""

    scale: Scale
    ie: float
    bpl: float | None  # None: no published value
    source: str  # table and edition
    note: str = ""


_I1 = "ITU-T G.113 (11/2007) Appendix I, Table I.1"
_I3 = "ITU-T G.113 (11/2007) Appendix I, Table I.3"
_IV1 = "ITU-T G.113 (11/2007) Appendix IV, Table IV.1"

# Keys: the rtpmap encoding name, upper case (RFC 3551 / IANA media subtypes).
CODEC_IMPAIRMENTS: dict[str, CodecImpairment] = {
    # G.711 at 10 ms packets with the concealment of G.711 Appendix I: Ie 0, Bpl 25.1 (I.3);
    # every current receiver conceals lost G.711 packets.
    "PCMU": CodecImpairment(Scale.NARROWBAND, 0.0, 25.1, _I3, "G.711 with G.711 App. I PLC"),
    "PCMA": CodecImpairment(Scale.NARROWBAND, 0.0, 25.1, _I3, "G.711 with G.711 App. I PLC"),
    # RTP's G729 is G.729 or its bit-compatible Annex A; Table I.3 gives G.729A + VAD,
    # 2 frames (20 ms) per packet: Ie 11, Bpl 19.0.
    "G729": CodecImpairment(Scale.NARROWBAND, 11.0, 19.0, _I3, "G.729A + VAD, 20 ms packets"),
    # G.723.1 + VAD at 6.3 kbit/s, 30 ms packets: Ie 15, Bpl 16.1.
    "G723": CodecImpairment(Scale.NARROWBAND, 15.0, 16.1, _I3, "G.723.1 + VAD, 6.3 kbit/s"),
    # GSM 06.60 (EFR), 20 ms: Ie 5, Bpl 10.0.
    "GSM-EFR": CodecImpairment(Scale.NARROWBAND, 5.0, 10.0, _I3, "GSM-EFR"),
    # GSM 06.10 full rate (RPE-LTP 13 kbit/s): Ie 20; Table I.3 has no Bpl for it.
    "GSM": CodecImpairment(Scale.NARROWBAND, 20.0, None, _I1, "GSM-FR; no published Bpl"),
    # G.726 ADPCM and G.728 LD-CELP: Ie only.
    "G726-40": CodecImpairment(Scale.NARROWBAND, 2.0, None, _I1, "no published Bpl"),
    "G726-32": CodecImpairment(Scale.NARROWBAND, 7.0, None, _I1, "no published Bpl"),
    "G721": CodecImpairment(Scale.NARROWBAND, 7.0, None, _I1, "G.726 32 kbit/s"),
    "G726-24": CodecImpairment(Scale.NARROWBAND, 25.0, None, _I1, "no published Bpl"),
    "G726-16": CodecImpairment(Scale.NARROWBAND, 50.0, None, _I1, "no published Bpl"),
    "G728": CodecImpairment(Scale.NARROWBAND, 7.0, None, _I1, "16 kbit/s; no published Bpl"),
    # G.722 at 64 kbit/s on the wideband scale: Ie,WB 13; no Bpl,WB is transcribed here.
    "G722": CodecImpairment(Scale.WIDEBAND, 13.0, None, _IV1, "64 kbit/s; no Bpl,WB here"),
}

# Encodings we know the band of but for which no planning value is published (so the
# "not rated" reason can name the model that would apply).
_KNOWN_UNRATED: dict[str, Scale] = {
    "OPUS": Scale.FULLBAND,
    "ILBC": Scale.NARROWBAND,
    "SPEEX": Scale.NARROWBAND,
    "AMR": Scale.NARROWBAND,
    "AMR-WB": Scale.WIDEBAND,
    "SILK": Scale.WIDEBAND,
    "G7221": Scale.WIDEBAND,
    "EVS": Scale.FULLBAND,
}


def codec_impairment(encoding: str | None) -> CodecImpairment | None:
    """The planning values for an rtpmap encoding name, or None when none is published."""
    if not encoding:
        return None
    return CODEC_IMPAIRMENTS.get(encoding.upper())


def unrated_reason(encoding: str | None) -> str:
    """Why a codec has no rating, in words for a table cell."""
    if not encoding:
        return "not rated: unknown codec"
    scale = _KNOWN_UNRATED.get(encoding.upper())
    where = f" ({scale.value})" if scale is not None else ""
    return f"not rated: no published Ie for {encoding}{where}"
