from vhdfix.cli import main

main()
