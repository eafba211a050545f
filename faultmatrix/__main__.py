from faultmatrix.cli import main

main()
