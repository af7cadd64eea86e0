import sys

from dlzoo.cli import main

sys.exit(main())
