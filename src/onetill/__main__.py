from onetill.cli import main

main()
