"""Members: enrolment, lookup, activity, and opting out."""
