"""What the reasoner is told: prompts, recalled memories, times and persons as spoken."""
