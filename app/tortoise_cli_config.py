"""The Tortoise configuration for the `tortoise` command (makemigrations), from the environment."""

from app.config import Settings
from app.db import tortoise_config

TORTOISE_ORM = tortoise_config(Settings.from_env())
