"""Mail: the mailbox backends, the message reader and the senders."""
