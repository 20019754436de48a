"""Playing audio, sentence by sentence.

- ``sink``: the ``AudioSink`` protocol, ``Playback`` (one sentence handed to a sink) and
  ``TeeSink``;
- ``device``: the sound device (one PortAudio stream); ``null``: nowhere, at the sample clock
  or at once; ``wav``: a WAV file;
- ``frames``: the frame queue a device drains; ``resample``: chunks to the sink's rate;
- ``output``: the sink the options ask for.
"""
