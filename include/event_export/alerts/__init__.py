"""What happens when an export fails or runs late: the failure policy (pure), incident
state, the deadline alert and every email's text.
"""
