from optihub.cli import main

main()
