"""mailbot: the intake bot of the Croydon Safeguarding Children Partnership."""

__version__ = "0.1.0"
