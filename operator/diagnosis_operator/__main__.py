from diagnosis_operator.entrypoints.cli.main import main

raise SystemExit(main())
