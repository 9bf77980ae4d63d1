"""Practice: `history` (every graded attempt in SQLite, with its migrations), `progress` (mastery per category and
concept, a study plan) and `picks` (which question or follow-up comes next)."""
