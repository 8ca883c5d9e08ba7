"""The ``kubectl-diagnose`` plugin: ``main`` (argparse and the entry point), ``commands``,
``render`` (what it prints, pure) and ``client`` (its apiserver calls)."""
