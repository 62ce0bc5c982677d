from custody.entry import main

raise SystemExit(main())
