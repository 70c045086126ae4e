"""Intake: from the mailbox to a committed outcome, one message at a time.

``poller`` runs the loop; ``pipeline`` handles one message (decide, store, commit,
move); ``handlers`` decide what a message is; ``actions`` carry the decision out.
"""
