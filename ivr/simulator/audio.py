"""A stand-in for a recorded message in the demo (the simulator records nothing): a soft
tone of the message's length, as a WAV file."""

from __future__ import annotations

import io
import math
import struct
import wave

RATE = 8000  # telephone quality


def message_tone(seconds: int) -> bytes:
    frames = RATE * max(1, min(seconds, 120))
    samples = (
        int(6000 * math.sin(2 * math.pi * 440 * i / RATE) * (0.5 + 0.5 * math.sin(i / RATE)))
        for i in range(frames)
    )
    out = io.BytesIO()
    with wave.open(out, "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(RATE)
        wav.writeframes(b"".join(struct.pack("<h", s) for s in samples))
    return out.getvalue()


def message_recording(duration: int) -> tuple[bytes, str]:
    """A recording the back office plays, in the demo: a tone as long as the message."""
    return message_tone(duration), "audio/wav"
