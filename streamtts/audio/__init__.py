"""Playing audio: the sink protocol and its sinks (sound device, WAV file, null)."""
