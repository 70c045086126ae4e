"""The command line: one module per command group, and text output for people.

``main`` (in :mod:`mailbot.cli.main`) parses the arguments and calls the group's
function; each group turns the app's typed results into JSON or plain text.
"""
