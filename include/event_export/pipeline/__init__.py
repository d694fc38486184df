"""The data path of one run: lake -> extract -> split -> format -> package -> upload ->
validate, the staging area files wait in between, and the names delivered files get.
"""
