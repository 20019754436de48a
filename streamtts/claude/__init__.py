"""Claude Code integration.

- ``hooks``: the hook inputs (``MessageDisplay``, ``Stop``, ``UserPromptSubmit``,
  ``SessionStart``) turned into sentences, exactly once each;
- ``settings``: the settings file the hooks are installed in.
"""
