"""Cases: their statuses, the store that writes them, people's edits, and the queue."""
