"""Punch cards: punches per qualifying purchase and the reward they complete."""
