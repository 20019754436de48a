"""Which sink the options ask for: the device (or the realtime null device), a WAV file,
both, or none.
"""

from __future__ import annotations

from pathlib import Path

from streamtts.audio.device import SoundDeviceSink
from streamtts.audio.null import NullSink
from streamtts.audio.sink import AudioSink, TeeSink
from streamtts.audio.wav import WavSink

NULL_DEVICE = "null"


def _device_sink(device: str | int | None) -> AudioSink:
    if device == NULL_DEVICE:
        return NullSink(realtime=True)
    return SoundDeviceSink(device=device)


def open_sink(
    *,
    output: Path | None = None,
    device: str | int | None = None,
    play: bool = True,
) -> AudioSink:
    """The sink for these options: device, WAV file, both, or null when neither.

    Device ``null`` plays silently at the sample clock, so timing is as with a sound card;
    neither playing nor writing takes the audio at once.
    """

    if play and output is not None:
        return TeeSink(_device_sink(device), WavSink(output))
    if play:
        return _device_sink(device)
    if output is not None:
        return WavSink(output)
    return NullSink()
