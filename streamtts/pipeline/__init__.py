"""The pipeline: sentences in; translated, read, synthesized and played on threads of their
own; a record of each out.

- ``core``: the ``Pipeline``, its stages and its events (ready, started, finished);
- ``inbox``: the queues between its threads;
- ``run``: the ``Run`` interface of a run in this process or through the daemon, and the
  pipeline that speech options describe;
- ``stats``: a sentence's record and the run's summary and reports.
"""
