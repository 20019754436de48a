"""The resident daemon (``streamtts serve``) and its clients.

- ``protocol``: what both ends share (socket, ownership, encoding, ops, controls, policies,
  speech options, the command line that starts a daemon);
- ``server``: the daemon; ``listener``: its socket and lock; ``peer``: one client as it sees
  it; ``ledger``: its record of each sentence;
- ``client``: connecting (or starting a daemon); ``remote``: a run through the daemon;
- ``service``: ``serve`` as a launchd agent or systemd user unit.
"""
