"""Claude Code integration: hook inputs turned into sentences, and the settings file the hooks
live in.
"""
