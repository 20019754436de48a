"""Reading what the agent says, as text pieces to speak.

- ``stream``: an agent's output on stdin (or a file), line by line, its format detected;
- ``formats/``: one parser per agent CLI (``claude``, ``codex``, ``gemini``) and their
  registry, ``PARSERS``;
- ``transcript``: a Claude Code session transcript, followed as it is written (``watch``).
"""
