from shipwise.cli.main import main

main()
