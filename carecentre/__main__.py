from carecentre.cli import main

main()
