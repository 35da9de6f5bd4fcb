"""Actions: the rules for what members do besides ordering, and awarding them."""
