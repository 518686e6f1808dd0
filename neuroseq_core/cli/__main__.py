"""python -m neuroseq_core.cli"""

from neuroseq_core.cli.main import main

raise SystemExit(main())
