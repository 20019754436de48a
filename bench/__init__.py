"""streamtts' benchmarks, run as modules from the repository root: ``python -m bench.NAME``.

``bench/README.md`` lists them, what each measures and its last recorded figures; every one
takes ``--smoke``, the least real work that runs its whole path, with results kept out of
``bench/results/`` (``tests/bench/test_bench_smoke.py`` runs them so).
"""
