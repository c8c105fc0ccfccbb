"""The domain core of mend. Nothing in here imports Textual."""
