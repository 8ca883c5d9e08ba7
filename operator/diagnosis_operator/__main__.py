from diagnosis_operator.cli import main

raise SystemExit(main())
